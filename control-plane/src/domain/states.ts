// Stage, attempt and run states and the pure rules that move between them.
// No I/O here: the store applies these decisions inside its transactions.

export type StageState = "pending" | "queued" | "assigned" | "running" | "succeeded" | "failed" | "canceled" | "errored" | "lost" | "skipped";

export type AttemptState = "assigned" | "running" | "succeeded" | "failed" | "errored" | "canceled" | "lost" | "timeout";

export type RunState = "queued" | "running" | "succeeded" | "failed" | "errored" | "canceled";

/** How an attempt ended, as reported by an agent or decided by the server. */
export type Outcome = "succeeded" | "failed" | "errored" | "canceled" | "lost" | "timeout";

export const OUTCOMES: readonly Outcome[] = ["succeeded", "failed", "errored", "canceled", "lost", "timeout"];
export const ACTIVE_ATTEMPT_STATES: readonly AttemptState[] = ["assigned", "running"];
export const TERMINAL_STAGE_STATES: readonly StageState[] = ["succeeded", "failed", "canceled", "errored", "lost", "skipped"];
export const TERMINAL_RUN_STATES: readonly RunState[] = ["succeeded", "failed", "errored", "canceled"];
/** Terminal stage states other than succeeded: a stage that needs one of these is skipped. */
export const UNSUCCESSFUL_STAGE_STATES: readonly StageState[] = TERMINAL_STAGE_STATES.filter((s) => s !== "succeeded");
export const RUN_STATES: readonly RunState[] = ["queued", "running", ...TERMINAL_RUN_STATES];

export function isRunState(value: string): value is RunState {
  return (RUN_STATES as readonly string[]).includes(value);
}

export function isOutcome(value: string): value is Outcome {
  return (OUTCOMES as readonly string[]).includes(value);
}

export function isTerminalStage(state: string): boolean {
  return (TERMINAL_STAGE_STATES as readonly string[]).includes(state);
}

export function isTerminalRun(state: string): boolean {
  return (TERMINAL_RUN_STATES as readonly string[]).includes(state);
}

export interface RetryPolicy {
  /** Retries allowed after the first attempt. */
  count: number;
  on: readonly string[];
}

/** What happens to the stage after one of its attempts ends. */
export type StageDecision = { kind: "finish"; state: StageState; reason: string } | { kind: "retry"; reason: string };

/**
 * Decide the stage's next state once attempt number `attemptNumber` ended with
 * `outcome`. A stage is retried at most `retry.count` times, and only for the
 * outcomes it lists; a timeout ends as `failed` with reason `timeout`.
 */
export function decideAfterAttempt(outcome: Outcome, attemptNumber: number, retry: RetryPolicy): StageDecision {
  if (outcome === "succeeded") return { kind: "finish", state: "succeeded", reason: "" };
  if (outcome !== "canceled" && retry.on.includes(outcome) && attemptNumber <= retry.count) {
    return { kind: "retry", reason: outcome };
  }
  const state: StageState = outcome === "timeout" ? "failed" : outcome;
  return { kind: "finish", state, reason: outcome };
}

/**
 * The run's state derives from its stages: still moving while any stage is
 * not terminal; otherwise the worst outcome wins (canceled > failed > errored).
 */
export function deriveRunState(stageStates: readonly string[], canceled: boolean): RunState {
  const open = stageStates.filter((s) => !isTerminalStage(s));
  if (open.length > 0) {
    if (canceled) return "canceled";
    const started = stageStates.some((s) => s !== "pending" && s !== "queued");
    return started ? "running" : "queued";
  }
  if (canceled || stageStates.includes("canceled")) return "canceled";
  if (stageStates.includes("failed") || stageStates.includes("lost")) return "failed";
  if (stageStates.includes("errored")) return "errored";
  if (stageStates.includes("skipped")) return "failed";
  return "succeeded";
}

/** Labels match when the agent carries every selector pair exactly. */
export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
