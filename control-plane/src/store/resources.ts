// What agents hold on their hosts beyond stages (agent_resources: temporary environments,
// service replicas next). Each heartbeat's inventory replaces the agent's rows in one
// statement, written only where something changed; readers filter by kind.
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Db } from "./db";
import { agentResources, agents, runs } from "./schema";

export type ResourceRow = typeof agentResources.$inferSelect;

/** One reported resource, checked by the caller (see @dockyard/proto held-resources.ts). */
export interface ReportedResource {
  kind: string;
  id: string;
  runId: string | null;
  createdAt: Date | null;
  expiresAt: Date | null;
  attributes: Record<string, string>;
}

/** The agent's whole inventory: rows it no longer reports go, new and changed ones are written. */
export async function syncResources(db: Db, agentId: string, reported: ReportedResource[]): Promise<void> {
  const rows = JSON.stringify(
    reported.map((r) => ({
      kind: r.kind,
      id: r.id,
      run_id: r.runId,
      created_at: r.createdAt?.toISOString() ?? null,
      expires_at: r.expiresAt?.toISOString() ?? null,
      attributes: r.attributes,
    })),
  );
  await db.execute(sql`
    WITH r AS (
      SELECT * FROM jsonb_to_recordset(${rows}::jsonb)
        AS r(kind text, id text, run_id text, created_at timestamptz, expires_at timestamptz, attributes jsonb)),
    gone AS (
      DELETE FROM agent_resources a WHERE a.agent_id = ${agentId}
        AND NOT EXISTS (SELECT 1 FROM r WHERE r.kind = a.kind AND r.id = a.id))
    INSERT INTO agent_resources (agent_id, kind, id, run_id, created_at, expires_at, attributes)
    SELECT ${agentId}, kind, id, run_id, created_at, expires_at, attributes FROM r
    ON CONFLICT (agent_id, kind, id) DO UPDATE
      SET run_id = excluded.run_id, created_at = excluded.created_at, expires_at = excluded.expires_at, attributes = excluded.attributes
      WHERE (agent_resources.run_id, agent_resources.created_at, agent_resources.expires_at, agent_resources.attributes)
        IS DISTINCT FROM (excluded.run_id, excluded.created_at, excluded.expires_at, excluded.attributes)`);
}

/** The resources of one kind, newest first, with their agent's name. */
export async function resourcesOfKind(
  db: Db,
  kind: string,
  limit = 500,
): Promise<(ResourceRow & { agentName: string })[]> {
  const rows = await db
    .select({ resource: agentResources, agentName: sql<string>`coalesce(${agents.name}, '')` })
    .from(agentResources)
    .leftJoin(agents, eq(agents.id, agentResources.agentId))
    .where(eq(agentResources.kind, kind))
    .orderBy(sql`${agentResources.createdAt} DESC NULLS LAST, ${agentResources.id}`)
    .limit(limit);
  return rows.map((r) => ({ ...r.resource, agentName: r.agentName }));
}

/** Those of `runIds` that ended, with their final state. A run this farm does not know is not "ended". */
export async function endedRuns(db: Db, runIds: string[]): Promise<{ id: string; state: string; finishedAt: Date }[]> {
  const ids = [...new Set(runIds)];
  if (ids.length === 0) return [];
  const rows = await db
    .select({ id: runs.id, state: runs.state, finishedAt: runs.finishedAt })
    .from(runs)
    .where(and(inArray(runs.id, ids), isNotNull(runs.finishedAt)));
  return rows.map((r) => ({ ...r, finishedAt: r.finishedAt! }));
}
