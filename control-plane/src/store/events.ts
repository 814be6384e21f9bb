// Run events: status changes and log chunks in one per-run sequence. The seq
// comes from bumping runs.last_event_seq, whose row lock orders concurrent
// writers, so seqs are gap-free and commit in order (watchers can resume).
import { sql, type SQL } from "drizzle-orm";
import { queryRows, type Tx } from "./db";

/** `approval`: what an approval stage did (waiting, reminder, approved, rejected, timed_out, canceled). */
export type RunEventKind = "stage" | "log" | "run" | "approval";

export interface StagePayload {
  stageName: string;
  /**
   * The stage's new state; or, just before the `queued` of a retry, the ended attempt's outcome (lost, timeout, failed,
   * errored).
   */
  state: string;
  attempt: number;
  agentId: string;
  /** For display; absent on events written before agents were named in them. */
  agentName?: string;
  exitCode: number | null;
  reason: string;
}

export interface NewRunEvent {
  kind: RunEventKind;
  stageId?: string | null;
  attemptId?: string | null;
  chunkSeq?: number | null;
  stream?: number | null;
  data?: Buffer | null;
  payload: Record<string, unknown>;
}

export interface RunEventRecord extends NewRunEvent {
  runId: string;
  seq: number;
  at: Date;
}

/**
 * Append events to a run inside the caller's transaction, in one statement:
 * bump the run's counter (its row lock orders concurrent writers) and insert
 * the events numbered from it. `runState`, when given, moves the run's state
 * in the same update (the run event among `events` announces it).
 */
export async function appendEvents(
  tx: Tx,
  runId: string,
  events: NewRunEvent[],
  at: Date,
  runState?: { state: string; finishedAt: Date | null },
): Promise<RunEventRecord[]> {
  if (events.length === 0) return [];
  const rows = await queryRows<{ seq: string | number }>(
    tx,
    sql`${eventsInsert(runId, events, at, undefined, runState)}`,
  );
  if (rows.length !== events.length) throw new Error(`run vanished while appending events: ${runId}`);
  return numbered(runId, events, rows, at);
}

/**
 * The `r AS (...) INSERT ... RETURNING seq` tail that appends `events`.
 * `guard` names a CTE defined before it: the events are written only when
 * that CTE returned a row (so one statement can update and log atomically).
 */
export function eventsInsert(
  runId: string,
  events: NewRunEvent[],
  at: Date,
  guard?: string,
  runState?: { state: string; finishedAt: Date | null },
): SQL {
  const n = events.length;
  const values = events.map(
    (e, i) => sql`(${i}::int, ${e.kind}::text, ${e.stageId ?? null}::text, ${e.attemptId ?? null}::text,
    ${e.chunkSeq ?? null}::bigint, ${e.stream ?? null}::int, ${e.data ?? null}::bytea, ${JSON.stringify(e.payload)}::jsonb)`,
  );
  const when = guard ? sql.raw(` AND EXISTS (SELECT 1 FROM ${guard})`) : sql``;
  return sql`${guard ? sql`, ` : sql`WITH `}r AS (
      UPDATE runs SET last_event_seq = last_event_seq + ${n}${runState ? sql`, state = ${runState.state}, finished_at = ${runState.finishedAt}::timestamptz` : sql``}
      WHERE id = ${runId}${when} RETURNING last_event_seq)
    INSERT INTO run_events (run_id, seq, at, kind, stage_id, attempt_id, chunk_seq, stream, data, payload)
    SELECT ${runId}, r.last_event_seq - ${n} + v.i + 1, ${at}::timestamptz, v.kind, v.stage_id, v.attempt_id, v.chunk_seq, v.stream, v.data, v.payload
    FROM r, (VALUES ${sql.join(values, sql`, `)}) AS v(i, kind, stage_id, attempt_id, chunk_seq, stream, data, payload)
    RETURNING seq`;
}

const RUNNING = { state: "running" };

/**
 * CTEs `<name>_runs` and `<name>` (RETURNING run_id, seq) that move the queued runs among
 * `runIds` (a subquery) to running, each with its `running` event numbered by the same
 * update of the run row (a run's first placement; see claims.ts).
 */
export function runsStartedCte(name: string, runIds: SQL, at: Date): SQL {
  const runsCte = sql.raw(`${name}_runs`);
  return sql`${runsCte} AS (
      UPDATE runs SET state = 'running', last_event_seq = last_event_seq + 1
      WHERE state = 'queued' AND id IN (${runIds}) RETURNING id, last_event_seq),
    ${sql.raw(name)} AS (
      INSERT INTO run_events (run_id, seq, at, kind, payload)
      SELECT r.id, r.last_event_seq, ${at}::timestamptz, 'run', ${JSON.stringify(RUNNING)}::jsonb FROM ${runsCte} r
      RETURNING run_id, seq)`;
}

export function runsStartedRecords(rows: { run_id: string; seq: string | number }[], at: Date): RunEventRecord[] {
  return rows.map((r) => ({ kind: "run", payload: RUNNING, runId: r.run_id, seq: Number(r.seq), at }));
}

/** Records for events whose insert returned `rows` (their seqs are consecutive). */
export function numbered(
  runId: string,
  events: NewRunEvent[],
  rows: { seq: string | number }[],
  at: Date,
): RunEventRecord[] {
  const first = Math.min(...rows.map((r) => Number(r.seq)));
  return events.map((e, i) => ({ ...e, runId, seq: first + i, at }));
}

export function stageEvent(stageId: string, attemptId: string | null, payload: StagePayload): NewRunEvent {
  return { kind: "stage", stageId, attemptId, payload: payload as unknown as Record<string, unknown> };
}
