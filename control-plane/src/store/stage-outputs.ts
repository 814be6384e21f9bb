// Outputs of a run's succeeded stages and of those that skipped themselves with outputs
// (an approval's on_timeout: skip writes decision: skipped): what `${{ stages.X.outputs.Y }}` reads,
// the agents stages' affinity keys prefer, and the environments deploy stages recorded.
import { and, eq, isNotNull, isNull, notInArray, or, sql } from "drizzle-orm";
import type { Db } from "./db";
import { affinity, environments, stages, type StageOutputsRow } from "./schema";

export async function runOutputs(db: Db, runId: string): Promise<Map<string, StageOutputsRow>> {
  const rows = await db
    .select({ name: stages.name, outputs: stages.outputs })
    .from(stages)
    .where(and(eq(stages.runId, runId), or(eq(stages.state, "succeeded"), and(eq(stages.state, "skipped"), isNotNull(stages.outputs)))));
  return new Map(rows.map((r) => [r.name, r.outputs ?? { values: {} }]));
}

/** A stage with this affinity key succeeded on `agentId`: the next ones prefer it. */
export async function rememberAffinity(db: Db, key: string, agentId: string, at: Date): Promise<void> {
  await db.insert(affinity).values({ key, agentId, at }).onConflictDoUpdate({ target: affinity.key, set: { agentId, at } });
}

export type EnvironmentRow = typeof environments.$inferSelect;

export async function recordEnvironment(db: Db, env: Omit<EnvironmentRow, "removedAt">): Promise<void> {
  await db
    .insert(environments)
    .values({ ...env, removedAt: null })
    .onConflictDoNothing();
}

/** The agent reported the environments alive on its engine: the others it had are gone. */
export async function syncEnvironments(db: Db, agentId: string, liveIds: string[], now: Date): Promise<void> {
  const conditions = [eq(environments.agentId, agentId), isNull(environments.removedAt)];
  if (liveIds.length > 0) conditions.push(notInArray(environments.id, liveIds));
  await db
    .update(environments)
    .set({ removedAt: now })
    .where(and(...conditions));
}

/** Environments not reported gone, newest first, with their agent's name. */
export async function liveEnvironments(db: Db): Promise<(EnvironmentRow & { agentName: string })[]> {
  const rows = await db
    .select({ env: environments, agentName: sql<string>`coalesce((SELECT name FROM agents WHERE agents.id = ${environments.agentId}), '')` })
    .from(environments)
    .where(isNull(environments.removedAt))
    .orderBy(sql`${environments.createdAt} DESC`)
    .limit(500);
  return rows.map((r) => ({ ...r.env, agentName: r.agentName }));
}
