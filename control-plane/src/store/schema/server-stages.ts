// Server-run stages: their absolute timers, the signals sent to them, and the incoming
// decision hooks with the message ids they have seen.
import { sql } from "drizzle-orm";
import { pgTable, text, primaryKey, index, uniqueIndex } from "drizzle-orm/pg-core";
import { ts } from "./columns";
import { users } from "./identity";
import { attempts, stages } from "./runs";

/** Absolute timers of server-run attempts (a deadline, a reminder, a stage timeout): any replica fires a due one. */
export const serverTimers = pgTable(
  "server_timers",
  {
    id: text("id").primaryKey(),
    attemptId: text("attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    fireAt: ts("fire_at").notNull(),
    /** What the timer means to the kind (deadline, reminder) or to the runner (stage-timeout). */
    what: text("what").notNull(),
  },
  (t) => [index("server_timers_fire_idx").on(t.fireAt), index("server_timers_attempt_idx").on(t.attemptId)],
);

/**
 * Signals to server-run attempts (an approval's decision): recorded whoever receives them, handled under the attempt's
 * lock.
 */
export const serverSignals = pgTable(
  "server_signals",
  {
    id: text("id").primaryKey(),
    attemptId: text("attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    runId: text("run_id").notNull(),
    stageId: text("stage_id").notNull(),
    /** approve | reject */
    kind: text("kind").notNull(),
    by: text("by").notNull(),
    /** cli | http | webhook */
    via: text("via").notNull(),
    comment: text("comment").notNull().default(""),
    at: ts("at").notNull(),
    handledAt: ts("handled_at"),
  },
  (t) => [
    index("server_signals_unhandled_idx")
      .on(t.at)
      .where(sql`handled_at IS NULL`),
    index("server_signals_stage_idx").on(t.stageId),
  ],
);

/**
 * Children a server-run attempt spawned (stages/server-children.ts), one per key: the key makes a
 * spawn idempotent. The child's end (after its retries) sets `endedAt` in its end transaction;
 * a replica then calls the parent kind's `onChildEnded` and sets `deliveredAt` in one transaction
 * with the parent attempt locked, so each end is told exactly once.
 */
export const serverChildren = pgTable(
  "server_children",
  {
    parentAttemptId: text("parent_attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    stageId: text("stage_id")
      .notNull()
      .references(() => stages.id, { onDelete: "cascade" }),
    runId: text("run_id").notNull(),
    createdAt: ts("created_at").notNull(),
    endedAt: ts("ended_at"),
    deliveredAt: ts("delivered_at"),
  },
  (t) => [
    primaryKey({ columns: [t.parentAttemptId, t.key] }),
    uniqueIndex("server_children_stage_uq").on(t.stageId),
    index("server_children_undelivered_idx")
      .on(t.endedAt)
      .where(sql`ended_at IS NOT NULL AND delivered_at IS NULL`),
  ],
);

/**
 * Incoming decision webhooks (chat tools): each is bound to one user, whose decisions it makes.
 * Its Standard Webhooks key lives in the secret store (`secretRef`), never here.
 */
export const approvalHooks = pgTable("approval_hooks", {
  name: text("name").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id),
  secretRef: text("secret_ref").notNull(),
  createdAt: ts("created_at").notNull(),
});

/**
 * `webhook-id`s an incoming hook accepted, kept for the timestamp tolerance so a replay is
 * refused; the primary key makes two replicas race to one winner. Pruned after the window.
 */
export const hookSeenIds = pgTable(
  "hook_seen_ids",
  {
    hook: text("hook").notNull(),
    messageId: text("message_id").notNull(),
    seenAt: ts("seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.hook, t.messageId] }), index("hook_seen_ids_seen_idx").on(t.seenAt)],
);
