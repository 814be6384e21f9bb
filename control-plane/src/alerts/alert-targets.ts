// Which pipeline an alert belongs to: the run whose `notify:` rules name the event `alert`.
// A `service` label: the run updating the service now, else the one that last changed its
// hosts (service history). A `journey` + `env`: the run that last ran a ui-test stage reporting
// that journey and env in its outputs (read by the type's name: the kind lives elsewhere).
// And the update an alert may roll back: the one holding the service (rolling or watching).
import { sql } from "drizzle-orm";
import { queryRows, parseJson, type Tx } from "../store/db";
import { holderOf } from "../services/deploy-queue";

/** The run whose pipeline an alert with these labels is notified through, or null. */
export async function pipelineRunFor(tx: Tx, labels: Record<string, string>): Promise<string | null> {
  if (labels.service) {
    const [row] = await queryRows<{ run_id: string }>(
      tx,
      sql`SELECT run_id FROM (
          SELECT d.run_id, d.requested_at AS at FROM service_deploys d WHERE d.service = ${labels.service}
          UNION ALL
          SELECT h.run_id, h.since AS at FROM service_history h
            WHERE h.service = ${labels.service} AND h.run_id IS NOT NULL
        ) x ORDER BY at DESC LIMIT 1`,
    );
    if (row) return row.run_id;
  }
  if (labels.journey && labels.env) {
    const [row] = await queryRows<{ run_id: string }>(
      tx,
      sql`SELECT s.run_id FROM stages s
        WHERE s.type = 'ui-test' AND s.outputs IS NOT NULL
          AND s.outputs -> 'values' ->> 'journey' = ${labels.journey}
          AND s.outputs -> 'values' ->> 'env' = ${labels.env}
        ORDER BY s.finished_at DESC NULLS LAST LIMIT 1`,
    );
    if (row) return row.run_id;
  }
  return null;
}

export interface UpdateInProgress {
  runId: string;
  /** rolling | watching | ...: the coordinator's phase (see services/coordinator.ts). */
  phase: string;
  /** The revision the update rolls to. */
  revision: number | null;
}

/** The update holding `service` now, with its phase, or null (nothing in progress). */
export async function updateInProgress(tx: Tx, service: string): Promise<UpdateInProgress | null> {
  const holder = await holderOf(tx, service);
  if (!holder) return null;
  const [row] = await queryRows<{ server_state: unknown }>(
    tx,
    sql`SELECT server_state FROM attempts WHERE id = ${holder.attemptId}`,
  );
  const state = parseJson((row?.server_state ?? {}) as Record<string, unknown> | string) as {
    phase?: string;
    target?: { revision?: number };
  };
  return { runId: holder.runId, phase: state?.phase ?? "queued", revision: state?.target?.revision ?? null };
}
