// What an attempt's end yields, and the run state its stage counts give: shared
// by the one-by-one end (stage-flow.ts) and the batched success (end-succeeded.ts).
import type { attempts } from "./schema";
import type { RunEventRecord } from "./events";
import { deriveRunState, isTerminalRun } from "../domain/states";

export type AttemptRow = typeof attempts.$inferSelect;

export interface EndedAttempt {
  attempt: AttemptRow;
  /** Its stage's type (its kind), for the stage duration histogram. */
  stageType: string;
  events: RunEventRecord[];
  /** The stage went back to the queue (a retry). */
  requeued: boolean;
  /** A server stage's child ended for good: its parent is to be told (the server runner delivers it). */
  childEnded?: boolean;
}

/** The run's new state from its stage counts (per state), or null when it does not change. */
export function nextRunState(
  counts: { run_state: string; state: string | null; n: string }[],
  canceled: boolean,
): { state: string; finishedAt: boolean } | null {
  if (counts.length === 0) return null;
  const current = counts[0]!.run_state;
  const states = counts
    .filter((c) => c.state !== null)
    .flatMap((c) => Array<string>(Math.max(0, Number(c.n))).fill(c.state!));
  const next = deriveRunState(states, canceled || current === "canceled");
  if (next === current) return null;
  return { state: next, finishedAt: isTerminalRun(next) };
}
