// Stored alerts: insert-once by (fingerprint, startsAt), so a resend of the same alert finds its
// row and does nothing; a resolved post turns a firing row resolved; the list for
// `dockyard alerts` and GET /api/v1/alerts.
import { and, desc, eq, sql } from "drizzle-orm";
import type { AlertView } from "@dockyard/web";
import type { Db, Tx } from "../store/db";
import { alerts, type AlertActionRow } from "../store/schema";

export type AlertRow = typeof alerts.$inferSelect;

/** One alert as the receiver stores it (times parsed; a zero endsAt is null). */
export interface NewAlert {
  fingerprint: string;
  startsAt: Date;
  endsAt: Date | null;
  status: "firing" | "resolved";
  alertname: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export const NO_ACTIONS: AlertActionRow = { notified: [], pipelineRunId: null, rollback: null, noRollback: "" };

/** Inserts the alert unless its (fingerprint, startsAt) is stored; true when this call stored it. */
export async function insertAlert(tx: Tx, a: NewAlert, now: Date): Promise<boolean> {
  const rows = await tx
    .insert(alerts)
    .values({
      ...a,
      receivedAt: now,
      resolvedAt: a.status === "resolved" ? now : null,
      actions: NO_ACTIONS,
    })
    .onConflictDoNothing()
    .returning({ fingerprint: alerts.fingerprint });
  return rows.length === 1;
}

/** A stored firing alert turns resolved (with its end); true when this call changed it. */
export async function resolveAlert(tx: Tx, a: NewAlert, now: Date): Promise<boolean> {
  const rows = await tx
    .update(alerts)
    .set({ status: "resolved", endsAt: a.endsAt ?? now, resolvedAt: now })
    .where(and(eq(alerts.fingerprint, a.fingerprint), eq(alerts.startsAt, a.startsAt), eq(alerts.status, "firing")))
    .returning({ fingerprint: alerts.fingerprint });
  return rows.length === 1;
}

/** Merge what was done into the row's actions. */
export async function recordActions(
  db: Db | Tx,
  key: { fingerprint: string; startsAt: Date },
  patch: Partial<AlertActionRow>,
): Promise<void> {
  await db
    .update(alerts)
    .set({ actions: sql`${alerts.actions} || ${JSON.stringify(patch)}::jsonb` })
    .where(and(eq(alerts.fingerprint, key.fingerprint), eq(alerts.startsAt, key.startsAt)));
}

export async function listAlerts(db: Db, opts: { state?: string; limit: number }): Promise<AlertRow[]> {
  return db
    .select()
    .from(alerts)
    .where(opts.state ? eq(alerts.status, opts.state) : undefined)
    .orderBy(desc(alerts.receivedAt), desc(alerts.startsAt))
    .limit(opts.limit);
}

export function alertView(r: AlertRow): AlertView {
  const a = r.actions ?? NO_ACTIONS;
  return {
    fingerprint: r.fingerprint,
    alertname: r.alertname,
    status: r.status,
    startsAt: r.startsAt.toISOString(),
    endsAt: r.endsAt ? r.endsAt.toISOString() : null,
    labels: r.labels,
    annotations: r.annotations,
    summary: r.annotations.summary ?? null,
    receivedAt: r.receivedAt.toISOString(),
    resolvedAt: r.resolvedAt ? r.resolvedAt.toISOString() : null,
    notified: a.notified ?? [],
    pipelineRunId: a.pipelineRunId ?? null,
    rollback: a.rollback ?? null,
    noRollback: a.noRollback || null,
  };
}
