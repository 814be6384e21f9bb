// Alerts Alertmanager sent to the server (POST /api/v1/alerts/alertmanager): one row per alert
// occurrence, keyed by its fingerprint and start (Alertmanager resends an alert every
// repeat_interval and on each group change: the key makes a resend a no-op), with what the
// server did about it (which channels it told, which update it rolled back, or why not).
import { pgTable, text, jsonb, primaryKey, index } from "drizzle-orm/pg-core";
import { ts } from "./columns";

/** What the server did with a new firing alert; written once, with the row or right after it. */
export interface AlertActionRow {
  /** Channels messages were enqueued for (one delivery each). */
  notified: string[];
  /** The run whose pipeline's `notify:` rules were used; null when no pipeline matched. */
  pipelineRunId: string | null;
  /** The update that was rolled back: its run, the service, how (switch) and the revision it was rolling to. */
  rollback: { runId: string; service: string; mode: string; revision: number | null } | null;
  /** Why there was no rollback, when the alert names a service; empty otherwise. */
  noRollback: string;
}

export const alerts = pgTable(
  "alerts",
  {
    fingerprint: text("fingerprint").notNull(),
    startsAt: ts("starts_at").notNull(),
    /** Alertmanager's endsAt; null while it sends the zero time (still firing, no end known). */
    endsAt: ts("ends_at"),
    /** firing | resolved */
    status: text("status").notNull(),
    alertname: text("alertname").notNull(),
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    annotations: jsonb("annotations").$type<Record<string, string>>().notNull(),
    receivedAt: ts("received_at").notNull(),
    /** When a later post turned it resolved; null while firing. */
    resolvedAt: ts("resolved_at"),
    actions: jsonb("actions").$type<AlertActionRow>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.fingerprint, t.startsAt] }), index("alerts_received_idx").on(t.receivedAt)],
);
