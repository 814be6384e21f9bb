// The states of runs, stages and attempts: part of the public API (every JSON shape
// carries them), defined once here. The control plane's domain rules (domain/states.ts)
// and its SQL read these lists; the CLI and the HTTP API validate and display with them.

export const RUN_STATES = ["queued", "running", "succeeded", "failed", "errored", "canceled"] as const;
export type RunState = (typeof RUN_STATES)[number];

export const STAGE_STATES = [
  "pending",
  "queued",
  "assigned",
  "running",
  "succeeded",
  "failed",
  "canceled",
  "errored",
  "lost",
  "skipped",
] as const;
export type StageState = (typeof STAGE_STATES)[number];

export const ATTEMPT_STATES = [
  "assigned",
  "running",
  "succeeded",
  "failed",
  "errored",
  "canceled",
  "lost",
  "timeout",
] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** Runs that will not change any more. */
export const TERMINAL_RUN_STATES = [
  "succeeded",
  "failed",
  "errored",
  "canceled",
] as const satisfies readonly RunState[];
/** Stages that will not change any more. */
export const TERMINAL_STAGE_STATES = [
  "succeeded",
  "failed",
  "canceled",
  "errored",
  "lost",
  "skipped",
] as const satisfies readonly StageState[];
/** Attempts that hold a slot and a lease. */
export const ACTIVE_ATTEMPT_STATES = ["assigned", "running"] as const satisfies readonly AttemptState[];
/** How an attempt ended (an attempt's state once it is not active). */
export const OUTCOMES = [
  "succeeded",
  "failed",
  "errored",
  "canceled",
  "lost",
  "timeout",
] as const satisfies readonly AttemptState[];
export type Outcome = (typeof OUTCOMES)[number];

export function isRunState(value: string): value is RunState {
  return (RUN_STATES as readonly string[]).includes(value);
}

export function isTerminalRun(state: string): boolean {
  return (TERMINAL_RUN_STATES as readonly string[]).includes(state);
}

export function isTerminalStage(state: string): boolean {
  return (TERMINAL_STAGE_STATES as readonly string[]).includes(state);
}
