// prom-client metrics. Gauges that describe the farm are read from Postgres
// at scrape time, so every replica reports the same truth.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "./store/db";

export interface ServerMetrics {
  registry: Registry;
  dispatchLatency: Histogram<string>;
  staleWrites: Counter<"kind">;
  attemptsEnded: Counter<"outcome">;
  logBytes: Counter<string>;
  finishBatch: Histogram<string>;
}

export function createMetrics(registry: Registry, db: Db): ServerMetrics {
  new Gauge({
    name: "dockyard_queue_depth",
    help: "Stages queued and waiting for an agent",
    registers: [registry],
    async collect() {
      const [row] = await queryRows<{ n: string }>(db, sql`SELECT count(*)::text AS n FROM stages WHERE state = 'queued'`);
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: "dockyard_stages",
    help: "Stages by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const rows = await queryRows<{ state: string; n: string }>(db, sql`SELECT state, count(*)::text AS n FROM stages GROUP BY state`);
      this.reset();
      for (const r of rows) this.set({ state: r.state }, Number(r.n));
    },
  });
  new Gauge({
    name: "dockyard_agents",
    help: "Agents by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const rows = await queryRows<{ state: string; n: string }>(db, sql`SELECT state, count(*)::text AS n FROM agents GROUP BY state`);
      this.reset();
      for (const r of rows) this.set({ state: r.state }, Number(r.n));
    },
  });
  return {
    registry,
    dispatchLatency: new Histogram({
      name: "dockyard_dispatch_latency_seconds",
      help: "Time from a stage being queued to its attempt being dispatched to an agent",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    staleWrites: new Counter({
      name: "dockyard_stale_writes_total",
      help: "Agent writes rejected because their lease was not the attempt's live lease",
      labelNames: ["kind"],
      registers: [registry],
    }),
    attemptsEnded: new Counter({
      name: "dockyard_attempts_ended_total",
      help: "Attempts ended, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    logBytes: new Counter({ name: "dockyard_log_bytes_total", help: "Log bytes persisted", registers: [registry] }),
    finishBatch: new Histogram({
      name: "dockyard_finish_batch_size",
      help: "Succeeded attempt ends written per transaction (group commit)",
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
  };
}
