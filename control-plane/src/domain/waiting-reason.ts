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
export function withWaitingReasons<S extends { name: string; state: string; reason: string | null; needs: string[] }>(stages: S[]): S[] {
  const states = new Map(stages.map((s) => [s.name, s.state]));
  return stages.map((s) => (s.state === "pending" && !s.reason ? { ...s, reason: waitingReason(s.needs, (n) => states.get(n)) || null } : s));
}
