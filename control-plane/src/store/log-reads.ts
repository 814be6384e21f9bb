// One attempt's stored output, page by page, for `GET /api/v1/runs/:id/stages/:stage/logs`.
// Chunks are the agent's (already masked), in run-event seq order: stdout, stderr and the
// farm's own notes as they were persisted. A page ends on a chunk boundary.
import { and, asc, eq, gte } from "drizzle-orm";
import type { Db } from "./db";
import { attempts, runEvents } from "./schema";
import { ACTIVE_ATTEMPTS } from "./state-sql";

/** Chunks read per statement while a page fills. */
const ROWS_PER_READ = 256;

export interface LogPage {
  data: Buffer;
  /** The run-event seq to ask for next (`from`); the same `from` when nothing was there yet. */
  nextFrom: number;
  /** The attempt has ended and this page holds its last chunk: asking again gives nothing. */
  complete: boolean;
}

/**
 * The output of attempt `attempt` of stage `stageId` from run-event seq `from` on, at most
 * `limitBytes` (but always at least one whole chunk, so a page never stalls on a big one).
 */
export async function readAttemptLog(
  db: Db,
  runId: string,
  stageId: string,
  attempt: number,
  from: number,
  limitBytes: number,
): Promise<LogPage> {
  const [row] = await db
    .select({ id: attempts.id, state: attempts.state })
    .from(attempts)
    .where(and(eq(attempts.stageId, stageId), eq(attempts.number, attempt)));
  if (!row) return { data: Buffer.alloc(0), nextFrom: from, complete: false };
  // Read the attempt's state before its chunks: an attempt that ended before the read has all its chunks stored.
  const ended = !ACTIVE_ATTEMPTS.includes(row.state);
  const parts: Buffer[] = [];
  let size = 0;
  let next = from;
  for (;;) {
    const rows = await db
      .select({ seq: runEvents.seq, data: runEvents.data })
      .from(runEvents)
      .where(
        and(
          eq(runEvents.runId, runId),
          eq(runEvents.attemptId, row.id),
          eq(runEvents.kind, "log"),
          gte(runEvents.seq, next),
        ),
      )
      .orderBy(asc(runEvents.seq))
      .limit(ROWS_PER_READ);
    for (const r of rows) {
      const chunk = r.data ?? Buffer.alloc(0);
      if (parts.length > 0 && size + chunk.length > limitBytes)
        return { data: Buffer.concat(parts), nextFrom: next, complete: false };
      parts.push(chunk);
      size += chunk.length;
      next = r.seq + 1;
    }
    if (rows.length < ROWS_PER_READ) return { data: Buffer.concat(parts), nextFrom: next, complete: ended };
  }
}
