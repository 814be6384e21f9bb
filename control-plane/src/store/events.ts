// Run events: status changes and log chunks in one per-run sequence. The seq
// comes from bumping runs.last_event_seq, whose row lock orders concurrent
// writers, so seqs are gap-free and commit in order (watchers can resume).
import { eq, sql } from "drizzle-orm";
import type { Tx } from "./db";
import { runs, runEvents } from "./schema";

export type RunEventKind = "stage" | "log" | "run";

export interface StagePayload {
  stageName: string;
  state: string;
  attempt: number;
  agentId: string;
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

/** Append events to a run inside the caller's transaction. */
export async function appendEvents(tx: Tx, runId: string, events: NewRunEvent[], at: Date): Promise<RunEventRecord[]> {
  if (events.length === 0) return [];
  const [row] = await tx
    .update(runs)
    .set({ lastEventSeq: sql`${runs.lastEventSeq} + ${events.length}` })
    .where(eq(runs.id, runId))
    .returning({ last: runs.lastEventSeq });
  if (!row) throw new Error(`run vanished while appending events: ${runId}`);
  const first = row.last - events.length + 1;
  const records = events.map((e, i) => ({ ...e, runId, seq: first + i, at }));
  await tx.insert(runEvents).values(
    records.map((r) => ({
      runId, seq: r.seq, at, kind: r.kind, stageId: r.stageId ?? null, attemptId: r.attemptId ?? null,
      chunkSeq: r.chunkSeq ?? null, stream: r.stream ?? null, data: r.data ?? null, payload: r.payload,
    })),
  );
  return records;
}

export function stageEvent(stageId: string, attemptId: string | null, payload: StagePayload): NewRunEvent {
  return { kind: "stage", stageId, attemptId, payload: payload as unknown as Record<string, unknown> };
}
