// What a ui-test's assignment reads besides its spec: the journey's history on its env (from
// earlier ui-test stages' outputs, so the agent can push cumulative counters and the "failed in
// N of the last 3 runs" window) and, with `service:`, the URL of one of its host proxies.
import { sql } from "drizzle-orm";
import type { UiTestSpec } from "@dockyard/pipeline";
import { queryRows, type Db } from "../store/db";
import { serviceViews } from "../services/service-views";
import { InvalidError, NotFoundError } from "../errors";

export interface UiTestHistoryInput {
  /** Previous results, newest first (at most 2). */
  recent: boolean[];
  checksPassed: number;
  checksFailed: number;
  /** Unix ms of the last successful run's end; 0: none. */
  lastSuccessMs: number;
}

export interface UiTestTarget {
  baseUrl: string;
  service: string;
  revision: number;
}

export interface UiTestInputs {
  history: UiTestHistoryInput;
  /** Null when the stage names a `url:` (no service to resolve). */
  target: UiTestTarget | null;
}

const count = (v: string | undefined): number => {
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
};

/**
 * The last two recorded runs of `journey` on `env` (stages whose outputs say so, passed or failed):
 * the newest one carries the cumulative totals and the last success, so two rows are enough.
 */
export async function journeyHistory(db: Db, journey: string, env: string): Promise<UiTestHistoryInput> {
  const rows = await queryRows<{ values: Record<string, string>; finished_at: Date | string | null }>(
    db,
    sql`SELECT outputs->'values' AS values, finished_at FROM stages
      WHERE type = 'ui-test' AND state IN ('succeeded', 'failed') AND outputs IS NOT NULL
        AND outputs->'values'->>'journey' = ${journey} AND outputs->'values'->>'env' = ${env}
        AND finished_at IS NOT NULL
      ORDER BY finished_at DESC LIMIT 2`,
  );
  const newest = rows[0]?.values;
  if (!newest) return { recent: [], checksPassed: 0, checksFailed: 0, lastSuccessMs: 0 };
  return {
    recent: rows.map((r) => r.values.success === "true"),
    checksPassed: count(newest.checks_passed),
    checksFailed: count(newest.checks_failed),
    lastSuccessMs: count(newest.last_success_at),
  };
}

/** A URL of one of the service's host proxies: the assigned agent's own host first, else the first that has one. */
export async function serviceTarget(db: Db, service: string, agentId: string | null): Promise<UiTestTarget> {
  let views;
  try {
    views = await serviceViews(db, service);
  } catch (err) {
    if (err instanceof NotFoundError) throw new InvalidError(`ui-test: ${err.message}`);
    throw err;
  }
  const view = views[0]!;
  const hosts = view.hosts.filter((h) => h.address);
  const host = hosts.find((h) => h.agentId === agentId) ?? hosts[0];
  if (!host || view.revision === null)
    throw new InvalidError(`ui-test: service '${service}' has no host proxy running yet (is it deployed?)`);
  return { baseUrl: `http://${host.address}`, service, revision: view.revision };
}

export async function uiTestInputs(db: Db, spec: UiTestSpec, agentId: string | null): Promise<UiTestInputs> {
  const [history, target] = await Promise.all([
    journeyHistory(db, spec.journey, spec.env),
    spec.service ? serviceTarget(db, spec.service, agentId) : Promise.resolve(null),
  ]);
  return { history, target };
}
