// The fence's timing contract, shared by the server (which checks its configuration
// against it and tells agents their fence) and the agent (which enforces it):
//
//   fence + kill budget < lease TTL  <=  the server's earliest give-away
//
// measured from the same instant: the agent's last safe point (the sending of a renewal
// the server acknowledged, or a moment at which every replica was shown unable to give a
// stage away). The server never ends an attempt before its lease ran out (a lost agent's
// attempts too), never while it holds leases (start, dependency outage, its own stall:
// then a full TTL after), and stamps a renewal when it handles it, which is after the
// agent sent it. Each side measures its own intervals (no clock is compared across hosts).

/** Default fence as a share of the lease TTL. */
export const FENCE_RATIO = 0.7;
/** What the agent may take to kill a fenced stage (SIGKILL through its supervisor: under 0.1 s measured). */
export const FENCE_KILL_BUDGET_MS = 1000;
/** A probe that found the TCP port open but got no TLS answer this long calls the server frozen. */
export const PROBE_ANSWER_TIMEOUT_MS = 2000;
/** A probe's TCP connect gives up after this (no answer: a cut link, or a dropped packet). */
export const PROBE_CONNECT_TIMEOUT_MS = 1000;
/** The server calls a gap of its event loop longer than this a stall (must stay under PROBE_ANSWER_TIMEOUT_MS). */
export const SERVER_STALL_MS = 1000;
/** A renewal unanswered this long past its due time starts the probes. */
export const PROBE_AFTER_OVERDUE_MS = 300;

/** The default fence for a lease TTL. */
export function defaultFenceMs(leaseTtlMs: number): number {
  return Math.floor(leaseTtlMs * FENCE_RATIO);
}

/**
 * Why a fence does not fit a lease TTL, or null when it does: the stage must be dead
 * before the server can give it away, and the fence must leave a renewal interval
 * (TTL/4) plus a probe round for the agent to tell a stopped server from a cut link.
 */
export function fenceProblem(leaseTtlMs: number, fenceMs: number): string | null {
  if (fenceMs + FENCE_KILL_BUDGET_MS >= leaseTtlMs) {
    return `fence ${fenceMs} ms + kill budget ${FENCE_KILL_BUDGET_MS} ms must stay below the lease TTL of ${leaseTtlMs} ms (the server gives a stage away after it)`;
  }
  const probe = Math.ceil(leaseTtlMs / 4) + PROBE_AFTER_OVERDUE_MS + PROBE_ANSWER_TIMEOUT_MS;
  if (fenceMs < probe) {
    return (
      `fence ${fenceMs} ms must be at least ${probe} ms (a renewal interval, TTL/4, plus ${PROBE_AFTER_OVERDUE_MS + PROBE_ANSWER_TIMEOUT_MS} ms to probe the ` +
      `servers): shorter, a stopped server would look like a cut link and stages would be stopped for nothing`
    );
  }
  return null;
}
