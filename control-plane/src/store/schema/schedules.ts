// Schedules: a pipeline submitted on a cron schedule (and, while a service it tests is being
// updated, every few seconds), as the user who created it. Every tick is recorded: the run it
// made, or why it made none.
import { sql } from "drizzle-orm";
import { pgTable, text, boolean, jsonb, bigint, index } from "drizzle-orm/pg-core";
import { bytea, ts } from "./columns";
import { users } from "./identity";

export const schedules = pgTable(
  "schedules",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull().unique(),
    /** 5 fields (minute precision) or 6 (a leading seconds field), checked by schedules/cron.ts. */
    cron: text("cron").notNull(),
    /** IANA zone the cron fields are read in. */
    timezone: text("timezone").notNull().default("UTC"),
    /** The pipeline file as submitted, and what a run keeps with it (SubmitRunRequest's fields). */
    pipelineYaml: text("pipeline_yaml").notNull(),
    source: text("source").notNull().default(""),
    defaultName: text("default_name").notNull().default(""),
    commit: text("commit").notNull().default(""),
    sourceTar: bytea("source_tar"),
    /** Services whose update makes the schedule tick continuously (ui-test stages' `service:`). */
    services: jsonb("services").$type<string[]>().notNull(),
    /** Runs are submitted as this user: their roles are checked at every tick. */
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id),
    enabled: boolean("enabled").notNull().default(true),
    /** When the next cron tick is due (continuous ticks do not move it). */
    nextAt: ts("next_at").notNull(),
    /** The earliest a continuous tick may fire (the last tick + the continuous interval). */
    nextContinuousAt: ts("next_continuous_at"),
    lastRunId: text("last_run_id"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    index("schedules_due_idx")
      .on(t.nextAt)
      .where(sql`enabled`),
  ],
);

/** Every tick: the run it made, or `skipped` with why. Deleted with the schedule. */
export const scheduleTicks = pgTable(
  "schedule_ticks",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    scheduleId: text("schedule_id")
      .notNull()
      .references(() => schedules.id, { onDelete: "cascade" }),
    at: ts("at").notNull(),
    /** cron | continuous | catch-up (ticks missed while no server ran, fired once) */
    kind: text("kind").notNull(),
    runId: text("run_id"),
    /** PIPELINE#NUMBER of the run, kept for people once the run is pruned. */
    runRef: text("run_ref").notNull().default(""),
    skipped: text("skipped"),
    /** More about the tick (a catch-up says how many ticks it stands for). */
    note: text("note").notNull().default(""),
  },
  (t) => [index("schedule_ticks_schedule_idx").on(t.scheduleId, t.at)],
);
