// prom-client metrics. Gauges that describe the farm are read from Postgres
// at scrape time, so every replica reports the same truth; one query serves
// all of them, at most once a second however many scrapers there are.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "./store/db";
import { ENVIRONMENT_RESOURCE } from "@dockyard/proto";

export interface ServerMetrics {
  registry: Registry;
  dispatchLatency: Histogram<string>;
  staleWrites: Counter<"kind">;
  attemptsEnded: Counter<"outcome">;
  logBytes: Counter<string>;
  finishBatch: Histogram<string>;
}

export interface MetricsOptions {
  /** How long one read of the farm gauges serves later scrapes; default 1 s. */
  farmTtlMs?: number;
  /** Milliseconds since the epoch; tests pass a controllable one. */
  now?: () => number;
}

interface FarmCounts {
  stages: Map<string, number>;
  agents: Map<string, number>;
  /** live | leaked -> count */
  /** `KIND/STATE` -> count. */
  resources: Map<string, number>;
  /** agent name -> bytes */
  buildCache: Map<string, number>;
  /** live | leaked -> count */
  workspaces: Map<string, number>;
}

/**
 * Stage and agent counts by state, environments, build caches and workspaces in ONE statement. The stages half is a
 * GROUP BY over the
 * whole table (no index covers every state), which is why it is cached: one scan a second
 * at most, not three queries per scrape per scraper. Queue depth is its `queued` row.
 */
async function readFarm(db: Pick<Db, "execute">): Promise<FarmCounts> {
  const rows = await queryRows<{ kind: keyof FarmCounts; state: string; n: string }>(
    db,
    sql`
    SELECT 'stages' AS kind, state, count(*)::text AS n FROM stages GROUP BY state
    UNION ALL
    SELECT 'agents' AS kind, state, count(*)::text AS n FROM agents GROUP BY state
    UNION ALL
    SELECT 'resources', kind || '/' || CASE WHEN expires_at < now() - interval '1 minute' THEN 'leaked' ELSE 'live' END, count(*)::text
    FROM agent_resources GROUP BY 2
    UNION ALL
    SELECT 'buildCache', name, build_cache_bytes::text FROM agents WHERE state IN ('online', 'draining')
    UNION ALL
    SELECT 'workspaces', 'live', coalesce(sum(workspaces_live), 0)::text FROM agents WHERE state IN ('online', 'draining')
    UNION ALL
    SELECT 'workspaces', 'leaked', coalesce(sum(workspaces_leaked), 0)::text FROM agents WHERE state IN ('online', 'draining')`,
  );
  const farm: FarmCounts = {
    stages: new Map(),
    agents: new Map(),
    resources: new Map(),
    buildCache: new Map(),
    workspaces: new Map(),
  };
  for (const r of rows) farm[r.kind].set(r.state, Number(r.n));
  return farm;
}

/**
 * A read of the farm shared by the gauges of a scrape and by every scrape within `ttlMs`
 * of the last completed read. Concurrent callers share the query in flight; a failed read
 * is not kept (that scrape fails, the next one queries again).
 */
function cachedFarm(db: Pick<Db, "execute">, ttlMs: number, now: () => number): () => Promise<FarmCounts> {
  let fresh: { value: FarmCounts; at: number } | null = null;
  let inFlight: Promise<FarmCounts> | null = null;
  return () => {
    if (fresh && now() - fresh.at < ttlMs) return Promise.resolve(fresh.value);
    inFlight ??= readFarm(db)
      .then((value) => {
        fresh = { value, at: now() };
        return value;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
}

export function createMetrics(
  registry: Registry,
  db: Pick<Db, "execute">,
  options: MetricsOptions = {},
): ServerMetrics {
  const farm = cachedFarm(db, options.farmTtlMs ?? 1_000, options.now ?? Date.now);
  new Gauge({
    name: "dockyard_queue_depth",
    help: "Stages queued and waiting for an agent",
    registers: [registry],
    async collect() {
      this.set((await farm()).stages.get("queued") ?? 0);
    },
  });
  new Gauge({
    name: "dockyard_stages",
    help: "Stages by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const { stages } = await farm();
      this.reset();
      for (const [state, n] of stages) this.set({ state }, n);
    },
  });
  new Gauge({
    name: "dockyard_agent_resources",
    help: "What agents report holding beyond stages, by kind (environment): live, or leaked (past their TTL by over a minute)",
    labelNames: ["kind", "state"],
    registers: [registry],
    async collect() {
      const { resources } = await farm();
      this.reset();
      // Always the environment series, so a dashboard or alert has a 0 to read.
      for (const state of ["live", "leaked"]) this.set({ kind: ENVIRONMENT_RESOURCE, state }, 0);
      for (const [key, n] of resources) {
        const [kind = "", state = ""] = key.split("/");
        this.set({ kind, state }, n);
      }
    },
  });
  new Gauge({
    name: "dockyard_workspaces",
    help: "Run workspaces (volumes, shell directories) online agents report holding: live, or leaked (their run ended over a minute ago)",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const { workspaces } = await farm();
      this.reset();
      for (const state of ["live", "leaked"]) this.set({ state }, workspaces.get(state) ?? 0);
    },
  });
  new Gauge({
    name: "dockyard_build_cache_bytes",
    help: "BuildKit cache on each online agent's engine, as last reported (pruned to DOCKYARD_BUILD_CACHE_BYTES)",
    labelNames: ["agent"],
    registers: [registry],
    async collect() {
      const { buildCache } = await farm();
      this.reset();
      for (const [agent, bytes] of buildCache) this.set({ agent }, bytes);
    },
  });
  new Gauge({
    name: "dockyard_agents",
    help: "Agents by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const { agents } = await farm();
      this.reset();
      for (const [state, n] of agents) this.set({ state }, n);
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
