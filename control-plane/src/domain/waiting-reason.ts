// The reason a `pending` stage gives: the needs it still waits for. Derived from
// the DAG whenever a run is read, never stored, so it cannot go stale as needs finish.

/** Needs listed before `and N more`. */
const MAX_LISTED = 5;

/** `waiting for build, test`: the needs (by name) that have not succeeded yet; "" when none. */
export function waitingReason(needs: readonly string[], stateOf: (name: string) => string | undefined): string {
  const open = needs.filter((n) => stateOf(n) !== "succeeded");
  if (open.length === 0) return "";
  const shown = open.slice(0, MAX_LISTED).join(", ");
  return `waiting for ${shown}${open.length > MAX_LISTED ? ` and ${open.length - MAX_LISTED} more` : ""}`;
}

/** The stages with each pending one's reason filled in from its needs (others unchanged). */
export function withWaitingReasons<S extends { name: string; state: string; reason: string | null; needs: string[] }>(
  stages: S[],
): S[] {
  const states = new Map(stages.map((s) => [s.name, s.state]));
  return stages.map((s) =>
    s.state === "pending" && !s.reason ? { ...s, reason: waitingReason(s.needs, (n) => states.get(n)) || null } : s,
  );
}

/**
 * A waiting approval's reason says how long is left (`until 14:05 UTC (in 11m)`): written when
 * the wait began, so a read puts in the time left now, from the attempt's stored deadline.
 */
export function withTimeLeft<
  S extends { state: string; reason: string | null; attemptHistory: { deadline?: string | null }[] },
>(stages: S[], now: Date): S[] {
  return stages.map((s) => {
    const deadline = s.attemptHistory.at(-1)?.deadline;
    if (s.state !== "running" || !deadline || !s.reason?.startsWith("waiting for approval")) return s;
    const left = Date.parse(deadline) - now.getTime();
    return Number.isFinite(left) ? { ...s, reason: s.reason.replace(/\(in [^)]*\)/, `(in ${timeLeftText(left)})`) } : s;
  });
}

/** `40s`, `11m`, `2h5m`, `3d4h`. */
export function timeLeftText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  return `${Math.floor(h / 24)}d${h % 24 ? `${h % 24}h` : ""}`;
}
