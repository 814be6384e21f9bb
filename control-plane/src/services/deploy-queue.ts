// The deploy queue: one update of a service at a time, the others waiting in request order.
// A waiter's row names its attempt; the holder is the earliest row whose attempt is still
// active, so a holder that ended in any way (succeeded, failed, canceled, its run deleted)
// releases the service at once, and one whose server died keeps it only while its attempt is
// resumable (server stages resume on another replica or the restarted server). Waiters look
// again on a timer: the release is seen within one QUEUE_POLL_MS.
import { sql } from "drizzle-orm";
import { queryRows, type Tx } from "../store/db";
import { ACTIVE_ATTEMPTS_SQL } from "../store/state-sql";
import type { ServerStage } from "../stages/kind";

export const QUEUE_POLL_MS = 1000;

export type QueuePlace = { holding: true } | { holding: false; position: number; holder: string; waiting: number };

/** Join (or look at) the queue of `service` for `stage`'s attempt; serialized per service by an advisory lock. */
export async function queueFor(tx: Tx, stage: ServerStage, service: string, now: Date): Promise<QueuePlace> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`dockyard.service:${service}`}))`);
  const holder = `run ${stage.run.name}#${stage.run.number} stage '${stage.stageName}'`;
  await tx.execute(sql`
    INSERT INTO service_deploys (attempt_id, service, run_id, holder_text, requested_at)
    VALUES (${stage.attemptId}, ${service}, ${stage.runId}, ${holder}, ${now})
    ON CONFLICT (attempt_id) DO NOTHING`);
  // Rows of attempts that ended are gone from the queue (a dead holder releases the service).
  await tx.execute(sql`
    DELETE FROM service_deploys d WHERE d.service = ${service}
      AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = d.attempt_id AND a.state IN ${ACTIVE_ATTEMPTS_SQL})`);
  const rows = await queryRows<{ attempt_id: string; holder_text: string }>(
    tx,
    sql`SELECT attempt_id, holder_text FROM service_deploys WHERE service = ${service}
      ORDER BY requested_at, attempt_id`,
  );
  const position = rows.findIndex((r) => r.attempt_id === stage.attemptId);
  if (position === 0) return { holding: true };
  return { holding: false, position, holder: rows[0]?.holder_text ?? "another update", waiting: rows.length - 1 };
}

/** Leave the queue (the update ended): the next one takes the service at its next look. */
export async function leaveQueue(tx: Tx, attemptId: string): Promise<void> {
  await tx.execute(sql`DELETE FROM service_deploys WHERE attempt_id = ${attemptId}`);
}

/** The attempt holding `service` now (its update is in progress), or null. */
export async function holderOf(tx: Tx, service: string): Promise<{ attemptId: string; runId: string } | null> {
  const [row] = await queryRows<{ attempt_id: string; run_id: string }>(
    tx,
    sql`SELECT d.attempt_id, d.run_id FROM service_deploys d JOIN attempts a ON a.id = d.attempt_id
      WHERE d.service = ${service} AND a.state IN ${ACTIVE_ATTEMPTS_SQL} ORDER BY d.requested_at, d.attempt_id LIMIT 1`,
  );
  return row ? { attemptId: row.attempt_id, runId: row.run_id } : null;
}
