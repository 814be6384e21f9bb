// Notification metrics: messages waiting in the outbox, and attempts by result.
import { Counter, Gauge, type Registry } from "prom-client";
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "../store/db";

export interface NotifyMetrics {
  attempts: Counter<"result">;
}

export function createNotifyMetrics(registry: Registry, db: Db): NotifyMetrics {
  new Gauge({
    name: "dockyard_notifications_pending",
    help: "Notification deliveries in the outbox not yet delivered nor given up (due now or waiting for a retry)",
    registers: [registry],
    async collect() {
      const [row] = await queryRows<{ n: number }>(
        db,
        sql`SELECT count(*)::int AS n FROM deliveries WHERE state = 'pending'`,
      );
      this.set(Number(row?.n ?? 0));
    },
  });
  return {
    attempts: new Counter({
      name: "dockyard_notification_attempts_total",
      help: "Notification delivery attempts by result (delivered, failed, refused, gone, disabled), this replica",
      labelNames: ["result"],
      registers: [registry],
    }),
  };
}
