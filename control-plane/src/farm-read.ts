// The farm as `/metrics` reports it, read from Postgres at scrape time so every replica reports
// the same truth: ONE statement for every farm gauge and Postgres-kept counter, and at most one
// such read a second however many scrapers there are (cachedFarm).
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "./store/db";

export interface FarmCounts {
  /** stage state -> count */
  stages: Map<string, number>;
  /** `waiting` -> approval stages waiting for a decision */
  approvals: Map<string, number>;
  agents: Map<string, number>;
  /** `KIND/STATE` -> count. */
  resources: Map<string, number>;
  /** agent name -> bytes */
  buildCache: Map<string, number>;
  /** live | leaked -> count */
  workspaces: Map<string, number>;
  /** `pending` -> deliveries not yet sent (due, or waiting for a retry) */
  outbox: Map<string, number>;
  /** service -> the revision every host serves */
  revisions: Map<string, number>;
  /** `NAME LABELS_JSON` -> value (store/farm-counters.ts) */
  counters: Map<string, number>;
}

/**
 * Every farm series in ONE statement. The stages half is a GROUP BY over the whole table (no
 * index covers every state), which is why the read is cached: one scan a second at most, not a
 * query per gauge per scrape per scraper. Queue depth is its `queued` row; approvals waiting are
 * counted in the same scan (a running approval stage is one waiting for its decision).
 */
export async function readFarm(db: Pick<Db, "execute">): Promise<FarmCounts> {
  const rows = await queryRows<{ kind: keyof FarmCounts; state: string; n: string }>(
    db,
    sql`
    WITH st AS (
      SELECT state, count(*) AS n, count(*) FILTER (WHERE type = 'approval') AS approvals FROM stages GROUP BY state)
    SELECT 'stages' AS kind, state, n::text AS n FROM st
    UNION ALL
    SELECT 'approvals', 'waiting', coalesce(sum(approvals) FILTER (WHERE state = 'running'), 0)::text FROM st
    UNION ALL
    SELECT 'agents' AS kind, state, count(*)::text AS n FROM agents GROUP BY state
    UNION ALL
    SELECT 'resources',
      kind || '/' || CASE WHEN expires_at < now() - interval '1 minute' THEN 'leaked' ELSE 'live' END, count(*)::text
    FROM agent_resources GROUP BY 2
    UNION ALL
    SELECT 'buildCache', name, build_cache_bytes::text FROM agents WHERE state IN ('online', 'draining')
    UNION ALL
    SELECT 'workspaces', 'live', coalesce(sum(workspaces_live), 0)::text
    FROM agents WHERE state IN ('online', 'draining')
    UNION ALL
    SELECT 'workspaces', 'leaked', coalesce(sum(workspaces_leaked), 0)::text
    FROM agents WHERE state IN ('online', 'draining')
    UNION ALL
    SELECT 'outbox', 'pending', count(*)::text FROM deliveries WHERE state = 'pending'
    UNION ALL
    SELECT 'revisions', name, current_revision::text FROM services WHERE current_revision IS NOT NULL
    UNION ALL
    SELECT 'counters', name || ' ' || labels, value::text FROM farm_counters`,
  );
  const farm: FarmCounts = {
    stages: new Map(),
    approvals: new Map(),
    agents: new Map(),
    resources: new Map(),
    buildCache: new Map(),
    workspaces: new Map(),
    outbox: new Map(),
    revisions: new Map(),
    counters: new Map(),
  };
  for (const r of rows) farm[r.kind].set(r.state, Number(r.n));
  return farm;
}

/** The series of farm counter `name`: each row's labels (parsed) and value. */
export function counterSeries(farm: FarmCounts, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const [key, value] of farm.counters) {
    const space = key.indexOf(" ");
    if (key.slice(0, space) !== name) continue;
    out.push({ labels: JSON.parse(key.slice(space + 1)) as Record<string, string>, value });
  }
  return out;
}

/**
 * A read of the farm shared by the gauges of a scrape and by every scrape within `ttlMs`
 * of the last completed read. Concurrent callers share the query in flight; a failed read
 * is not kept (that scrape fails, the next one queries again).
 */
export function cachedFarm(db: Pick<Db, "execute">, ttlMs: number, now: () => number): () => Promise<FarmCounts> {
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
