import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "./db";
import { runEvents } from "./schema";
import type { RunEventRecord } from "./events";

/** Events of a run after `afterSeq`, oldest first, at most `limit`. */
export async function listEvents(db: Db, runId: string, afterSeq: number, limit = 1000): Promise<RunEventRecord[]> {
  const rows = await db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.runId, runId), gt(runEvents.seq, afterSeq)))
    .orderBy(asc(runEvents.seq))
    .limit(limit);
  return rows.map((r) => ({
    runId: r.runId,
    seq: r.seq,
    at: r.at,
    kind: r.kind as RunEventRecord["kind"],
    stageId: r.stageId,
    attemptId: r.attemptId,
    chunkSeq: r.chunkSeq,
    stream: r.stream,
    data: r.data,
    payload: r.payload ?? {},
  }));
}
