// Stage, attempt and run states and the pure rules that move between them.
// No I/O here: the store applies these decisions inside its transactions.
import {
  OUTCOMES as OUTCOMES_LIST,
  TERMINAL_STAGE_STATES,
  isTerminalStage,
  type Outcome,
  type RunState,
  type StageState,
} from "@dockyard/web";

// The state unions and lists are the public API's (web/src/states.ts), defined once.
export {
  ACTIVE_ATTEMPT_STATES,
  OUTCOMES,
  RUN_STATES,
  TERMINAL_RUN_STATES,
  TERMINAL_STAGE_STATES,
  isRunState,
  isTerminalRun,
  isTerminalStage,
  type AttemptState,
  type Outcome,
  type RunState,
  type StageState,
} from "@dockyard/web";

/** Terminal stage states other than succeeded: a stage that needs one of these is skipped. */
export const UNSUCCESSFUL_STAGE_STATES: readonly StageState[] = TERMINAL_STAGE_STATES.filter((s) => s !== "succeeded");

export function isOutcome(value: string): value is Outcome {
  return (OUTCOMES_LIST as readonly string[]).includes(value);
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
 * A `skipped` stage decides nothing: it is skipped either for a need that failed,
 * errored, was lost or canceled (that stage decides), or because a stage skipped
 * itself (an approval's `on_timeout: skip`), which is not a failure. So a run whose
 * stages all succeeded or were skipped succeeded (README: Pipeline file, `needs`).
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
  return "succeeded";
}

/** Labels match when the agent carries every selector pair exactly. */
export function labelsMatch(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
