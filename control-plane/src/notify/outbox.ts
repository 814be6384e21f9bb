// The outbox: messages written in the transaction of the event that causes them, then claimed
// by any replica's worker (FOR UPDATE SKIP LOCKED, under a lease), sent, and recorded attempt
// by attempt. The row id is the message's webhook-id: a retry or a re-send after a crash carries
// the same id, so a receiver drops duplicates by it.
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { queryRows, type Db, type Tx } from "../store/db";
import { deliveries, deliveryAttempts } from "../store/schema";
import { newId } from "../ids";
import { bumpCounter, FAILED_DELIVERIES } from "../store/farm-counters";
import type { NotifyContext } from "./templates";

export type DeliveryRow = typeof deliveries.$inferSelect;
export type DeliveryAttemptRow = typeof deliveryAttempts.$inferSelect;

/** Standard Webhooks' schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then give up. */
export const RETRY_SCHEDULE_MS = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

export interface NewNotification {
  /** Channel names; each gets its own delivery (and webhook-id). */
  channels: string[];
  /** Templates (rendered at send time, with secret values masked). */
  subject: string;
  body: string;
  context: NotifyContext;
  runId?: string | null;
}

/** `msg_` + a UUID without dashes: a webhook-id in the spec's shape. */
export const newDeliveryId = (): string => `msg_${newId().replaceAll("-", "")}`;

/**
 * Writes one outbox row per channel inside the caller's transaction: committed with the event
 * that causes it, or not at all. Returns the delivery ids (webhook-ids).
 */
export async function enqueueNotification(tx: Tx | Db, msg: NewNotification, now: Date): Promise<string[]> {
  const names = [...new Set(msg.channels)];
  if (names.length === 0) return [];
  const rows = names.map((channel) => ({
    id: newDeliveryId(),
    channel,
    event: msg.context.event,
    runId: msg.runId ?? null,
    subject: msg.subject,
    body: msg.body,
    payload: { context: msg.context } as Record<string, unknown>,
    createdAt: now,
    nextAttemptAt: now,
    state: "pending",
  }));
  await tx.insert(deliveries).values(rows);
  return rows.map((r) => r.id);
}

/** Claims up to `limit` due deliveries for `leaseMs` (rows another worker holds are skipped, not waited for). */
export async function claimDue(db: Db, limit: number, now: Date, leaseMs: number): Promise<DeliveryRow[]> {
  const leaseId = newId();
  const until = new Date(now.getTime() + leaseMs);
  const rows = await queryRows<{ id: string }>(
    db,
    sql`UPDATE deliveries SET lease_id = ${leaseId}, lease_until = ${until}::timestamptz
      WHERE id IN (
        SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ${now}::timestamptz
          AND (lease_until IS NULL OR lease_until < ${now}::timestamptz)
        ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING id`,
  );
  if (rows.length === 0) return [];
  return db
    .select()
    .from(deliveries)
    .where(
      and(
        inArray(
          deliveries.id,
          rows.map((r) => r.id),
        ),
        eq(deliveries.leaseId, leaseId),
      ),
    );
}

/**
 * refused: the target is not allowed (no retry); gone: a 410 (the channel is disabled); disabled: the channel already
 * was.
 */
export type AttemptResult = "delivered" | "failed" | "refused" | "gone" | "disabled";

export interface AttemptRecord {
  result: AttemptResult;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Records one attempt of a claimed delivery and moves it: delivered, rescheduled per the
 * schedule, failed once the schedule is spent (or at once when refused), disabled on a 410.
 * Does nothing when the claim expired and another worker took the row (returns false).
 */
export async function recordAttempt(
  tx: Tx,
  row: DeliveryRow,
  attempt: AttemptRecord,
  now: Date,
  scheduleMs: number[],
): Promise<boolean> {
  const number = row.attempts + 1;
  const next = scheduleMs[number];
  let state: string;
  if (attempt.result === "delivered") state = "delivered";
  else if (attempt.result === "gone" || attempt.result === "disabled") state = "disabled";
  else if (attempt.result === "refused" || next === undefined) state = "failed";
  else state = "pending";
  const updated = await tx
    .update(deliveries)
    .set({
      attempts: number,
      state,
      leaseId: null,
      leaseUntil: null,
      nextAttemptAt: state === "pending" ? new Date(now.getTime() + next!) : row.nextAttemptAt,
      finishedAt: state === "pending" ? null : now,
    })
    .where(and(eq(deliveries.id, row.id), eq(deliveries.leaseId, row.leaseId ?? ""), eq(deliveries.state, "pending")))
    .returning({ id: deliveries.id });
  if (updated.length === 0) return false;
  // Counted with the move (not from the rows, which are pruned after their retention).
  if (state === "failed") await bumpCounter(tx, FAILED_DELIVERIES);
  await tx
    .insert(deliveryAttempts)
    .values({ deliveryId: row.id, number, at: now, ...attempt, error: attempt.error?.slice(0, 1000) ?? null });
  return true;
}

/** Pending deliveries of a disabled channel end as disabled (they would only be refused). */
export async function disablePending(tx: Tx, channel: string, now: Date): Promise<void> {
  await tx
    .update(deliveries)
    .set({ state: "disabled", finishedAt: now, leaseId: null, leaseUntil: null })
    .where(and(eq(deliveries.channel, channel), eq(deliveries.state, "pending")));
}

/** Recent deliveries (newest first) with their attempts, for `dockyard notifications`. */
export async function listDeliveries(
  db: Db,
  opts: { channel?: string; ids?: string[]; limit: number },
): Promise<{ row: DeliveryRow; attempts: DeliveryAttemptRow[] }[]> {
  const rows = await db
    .select()
    .from(deliveries)
    .where(
      and(
        opts.channel ? eq(deliveries.channel, opts.channel) : undefined,
        opts.ids ? inArray(deliveries.id, opts.ids) : undefined,
      ),
    )
    .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
    .limit(opts.limit);
  if (rows.length === 0) return [];
  const attempts = await db
    .select()
    .from(deliveryAttempts)
    .where(
      inArray(
        deliveryAttempts.deliveryId,
        rows.map((r) => r.id),
      ),
    )
    .orderBy(deliveryAttempts.number);
  return rows.map((row) => ({ row, attempts: attempts.filter((a) => a.deliveryId === row.id) }));
}

/** Finished deliveries are kept this long for `dockyard notifications`, then deleted with their attempts. */
export const DELIVERY_RETENTION_MS = 30 * 86_400_000;

/** Deletes up to `limit` deliveries that finished before `before` (bounded, so one pass never holds long locks). */
export async function pruneFinished(db: Db, before: Date, limit = 1000): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`DELETE FROM deliveries WHERE id IN (
      SELECT id FROM deliveries WHERE state <> 'pending' AND finished_at < ${before}::timestamptz LIMIT ${limit}) RETURNING id`,
  );
  return rows.length;
}
