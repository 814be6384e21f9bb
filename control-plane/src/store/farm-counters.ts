// Adding to a farm counter (schema/farm-counters.ts), in the caller's transaction: the count
// moves with the change it counts (a delivery giving up, a rollback starting) or not at all.
import { sql } from "drizzle-orm";
import type { Db, Tx } from "./db";

/** The counter names the farm writes (metric names, so `/metrics` reports a row as it is). */
export const FAILED_DELIVERIES = "dockyard_notify_failed_deliveries_total";
export const SERVICE_ROLLBACKS = "dockyard_service_rollbacks_total";

/** The labels' stored form: keys sorted, so one series is one row whatever order they came in. */
export function labelsKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export async function bumpCounter(
  tx: Pick<Tx | Db, "execute">,
  name: string,
  labels: Record<string, string> = {},
  by = 1,
): Promise<void> {
  await tx.execute(sql`
    INSERT INTO farm_counters (name, labels, value) VALUES (${name}, ${labelsKey(labels)}, ${by})
    ON CONFLICT (name, labels) DO UPDATE SET value = farm_counters.value + excluded.value`);
}
