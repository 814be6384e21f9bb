// A stage's stored output for the HTTP API: which attempt, which page, and the errors that
// name what exists (the stage names of the run, the attempts of the stage).
import type { Db } from "./store/db";
import { getRun } from "./store/runs";
import { readAttemptLog } from "./store/log-reads";
import { noSuchAttempt, stageNamed } from "./stage-lookup";

export interface StageLogRequest {
  /** 1, 2, ...; absent: the stage's latest attempt. */
  attempt?: number;
  /** The run-event seq to start at (a previous page's `nextFrom`); 0 = from the start. */
  from: number;
  limitBytes: number;
}

export interface StageLog {
  runId: string;
  stage: string;
  /** The attempt read; null while the stage has made none (the body is then empty). */
  attempt: number | null;
  /** How many attempts the stage made so far. */
  attempts: number;
  data: Uint8Array;
  nextFrom: number;
  complete: boolean;
}

/**
 * NotFoundError for a stage the run does not have (naming its stages) or an attempt the stage did not make (naming
 * them).
 */
export async function readStageLog(db: Db, runId: string, stageName: string, req: StageLogRequest): Promise<StageLog> {
  const run = await getRun(db, runId);
  const stage = stageNamed(run, stageName);
  const attempt = req.attempt ?? (stage.attempts > 0 ? stage.attempts : null);
  const base = { runId: run.id, stage: stage.name, attempt, attempts: stage.attempts };
  if (attempt === null) return { ...base, data: new Uint8Array(), nextFrom: req.from, complete: false };
  if (attempt > stage.attempts) throw noSuchAttempt(run, stage, attempt);
  const page = await readAttemptLog(db, run.id, stage.id, attempt, req.from, req.limitBytes);
  return { ...base, data: page.data, nextFrom: page.nextFrom, complete: page.complete };
}
