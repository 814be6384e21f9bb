// Notifications: channels, the outbox of deliveries and each delivery attempt.
import { sql } from "drizzle-orm";
import { pgTable, text, integer, jsonb, primaryKey, index } from "drizzle-orm/pg-core";
import { ts } from "./columns";

/** Where notifications go. Credentials live in the secret store; `secretRefs` names them (never a value). */
export const channels = pgTable("channels", {
  name: text("name").primaryKey(),
  /** email | sms | webhook */
  type: text("type").notNull(),
  /** Non-secret settings (url, smtp host/port/user, from, to, body template). */
  config: jsonb("config").$type<Record<string, unknown>>().notNull(),
  /** Role -> secret name (`password`, `token`, `key`, `previousKey`). */
  secretRefs: jsonb("secret_refs").$type<Record<string, string>>().notNull(),
  /** Until when the previous webhook key still signs beside the current one (rotation window). */
  previousKeyUntil: ts("previous_key_until"),
  createdAt: ts("created_at").notNull(),
  disabledAt: ts("disabled_at"),
  disabledReason: text("disabled_reason"),
});

/**
 * The outbox: one row per message to one channel, written in the transaction of the event that
 * causes it. `id` is the webhook-id (a receiver drops duplicates by it). A worker claims due rows
 * (FOR UPDATE SKIP LOCKED) and holds them by `leaseUntil`, so a replica killed mid-send is retried.
 */
export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    channel: text("channel").notNull(),
    /** What caused it: `run.failed`, `stage.notify`, `channel.disabled`, `test`. */
    event: text("event").notNull(),
    runId: text("run_id"),
    subject: text("subject").notNull(),
    body: text("body").notNull(),
    /** The structured message a webhook receives as JSON (no secret value: rendered from masked context). */
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: ts("created_at").notNull(),
    nextAttemptAt: ts("next_attempt_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** pending | delivered | failed | disabled */
    state: text("state").notNull(),
    /** The claim holding the row (a late result of an expired claim is dropped); with `leaseUntil`. */
    leaseId: text("lease_id"),
    leaseUntil: ts("lease_until"),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    index("deliveries_due_idx")
      .on(t.nextAttemptAt)
      .where(sql`state = 'pending'`),
    index("deliveries_channel_idx").on(t.channel, t.createdAt),
  ],
);

export const deliveryAttempts = pgTable(
  "delivery_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => deliveries.id, { onDelete: "cascade" }),
    number: integer("number").notNull(),
    at: ts("at").notNull(),
    /** delivered | failed | refused | gone */
    result: text("result").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.number] })],
);
