// prom-client metrics. The farm's series (gauges, Postgres-kept counters) are read from Postgres
// at scrape time, so every replica reports the same truth; one query serves all of them, at most
// once a second however many scrapers there are (farm-read.ts, farm-gauges.ts). The counters and
// histograms here are this replica's own.
import { Counter, Histogram, type Registry } from "prom-client";
import type { Db } from "./store/db";
import { cachedFarm } from "./farm-read";
import { registerFarmSeries } from "./farm-gauges";

export interface ServerMetrics {
  registry: Registry;
  dispatchLatency: Histogram<string>;
  staleWrites: Counter<"kind">;
  attemptsEnded: Counter<"outcome">;
  /** An attempt's run time (started, or assigned when it never started, to its end), by stage type and end state. */
  stageDuration: Histogram<"kind" | "result">;
  logBytes: Counter<string>;
  finishBatch: Histogram<string>;
}

export interface MetricsOptions {
  /** How long one read of the farm gauges serves later scrapes; default 1 s. */
  farmTtlMs?: number;
  /** Milliseconds since the epoch; tests pass a controllable one. */
  now?: () => number;
}

export function createMetrics(
  registry: Registry,
  db: Pick<Db, "execute">,
  options: MetricsOptions = {},
): ServerMetrics {
  const farm = cachedFarm(db, options.farmTtlMs ?? 1_000, options.now ?? Date.now);
  registerFarmSeries(registry, farm);
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
    stageDuration: new Histogram({
      name: "dockyard_stage_duration_seconds",
      help: "How long stage attempts ran, by stage type (kind) and the attempt's end state (result), this replica",
      labelNames: ["kind", "result"],
      // 10 ms (a server stage's quick decision) to an hour (a long build or an update's watch).
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
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
