// An assignment's fence: what the server sent, checked against the lease TTL with the
// same rule the server's configuration is checked with (@dockyard/proto fence.ts).
import { defaultFenceMs, FENCE_KILL_BUDGET_MS, fenceProblem, type Assignment } from "@dockyard/proto";
import type { Logger } from "pino";

/**
 * The lease TTL and fence to enforce for `a`; a fence that breaks the inequality is shortened to fit it (and logged).
 */
export function fenceFor(a: Assignment, log: Logger): { ttlMs: number; fenceMs: number } {
  const ttlMs = Number(a.leaseTtlMs) || 15_000;
  const given = Number(a.fenceMs) || defaultFenceMs(ttlMs);
  const problem = fenceProblem(ttlMs, given);
  if (!problem || given + FENCE_KILL_BUDGET_MS < ttlMs) {
    if (problem) log.warn({ attemptId: a.attemptId, problem }, "the server's fence is tight; enforcing it");
    return { ttlMs, fenceMs: given };
  }
  // Safety first: the stage must be dead before the server can give it away.
  const fenceMs = Math.max(1, ttlMs - FENCE_KILL_BUDGET_MS - 1);
  log.error(
    { attemptId: a.attemptId, problem, fenceMs },
    "the server's fence breaks the lease inequality; using a shorter one",
  );
  return { ttlMs, fenceMs };
}
