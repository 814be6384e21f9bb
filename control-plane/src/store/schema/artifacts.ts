// Stage artifacts: files an attempt uploaded (a failed journey's screenshot, a command
// stage's $DOCKYARD_ARTIFACTS), kept in Postgres with the run (removed with it). Bytes are
// bounded per artifact and per attempt (store/artifacts.ts), so a bytea column is enough.
import { bigint, index, integer, pgTable, text, uniqueIndex } from "drizzle-orm/pg-core";
import { bytea, ts } from "./columns";
import { attempts, runs } from "./runs";

export const artifacts = pgTable(
  "artifacts",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    /** The stage's name (what people type), as in the run. */
    stage: text("stage").notNull(),
    attemptId: text("attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    attemptNumber: integer("attempt_number").notNull(),
    name: text("name").notNull(),
    contentType: text("content_type").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    /** Hex SHA-256 of the bytes: a retried upload of the same bytes answers the same id. */
    sha256: text("sha256").notNull(),
    bytes: bytea("bytes").notNull(),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [uniqueIndex("artifacts_attempt_name_uq").on(t.attemptId, t.name), index("artifacts_run_idx").on(t.runId)],
);
