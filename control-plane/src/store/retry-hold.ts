// A retry that waits for the old copy (see endAttempt's retryMarginMs) is placed at once
// when the old copy's agent confirms the stop: it reports the attempt's end under its lease,
// which it does only after the stage's process ended.
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "./db";

/** The agent reported the end of `attemptId` (already ended by the server): its retry may go now. Returns whether one was waiting. */
export async function releaseRetry(db: Db, attemptId: string, leaseId: string, now: Date): Promise<boolean> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`
    UPDATE stages s SET queued_at = ${now}::timestamptz
    FROM attempts a
    WHERE a.id = ${attemptId} AND a.lease_id = ${leaseId} AND s.id = a.stage_id
      AND s.state = 'queued' AND s.attempts = a.number AND s.queued_at > ${now}::timestamptz
    RETURNING s.id`,
  );
  return rows.length > 0;
}
