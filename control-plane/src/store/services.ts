// Services in Postgres: the service row, its revisions (one per distinct spec and placement),
// the per-host history, and the agents a placement may choose. Every write takes the caller's
// transaction: a coordinator's step and its record commit together.
import { createHash } from "node:crypto";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import type { ServiceRevisionSpec, ServiceUpdatePolicy } from "@dockyard/pipeline";
import { parseJson, queryRows, type Db, type Tx } from "./db";
import { serviceHistory, serviceRevisions, services, type PlacementRow } from "./schema";
import { newId } from "../ids";

export interface RevisionRecord {
  service: string;
  revision: number;
  spec: ServiceRevisionSpec;
  placement: PlacementRow[];
  runId: string | null;
  stageName: string;
  createdAt: Date;
}

export type ServiceRecord = typeof services.$inferSelect;

/** Canonical JSON (keys sorted) so equal specs hash equal whatever the order they were written in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

export const revisionDigest = (spec: ServiceRevisionSpec, placement: PlacementRow[]): string =>
  createHash("sha256")
    .update(canonical({ spec, placement: placement.map((p) => ({ agentId: p.agentId, replicas: p.replicas })) }))
    .digest("hex");

/** The service row, locked (FOR UPDATE): null when it does not exist yet. */
export async function lockService(tx: Tx, name: string): Promise<ServiceRecord | null> {
  const [row] = await tx.select().from(services).where(eq(services.name, name)).for("update");
  return row ?? null;
}

export async function getService(db: Db, name: string): Promise<ServiceRecord | null> {
  const [row] = await db.select().from(services).where(eq(services.name, name));
  return row ?? null;
}

/** Create the service at its first update (no revision yet), or answer it; its proxy port never changes. */
export async function ensureService(
  tx: Tx,
  name: string,
  proxyPort: number,
  policy: ServiceUpdatePolicy,
  now: Date,
): Promise<ServiceRecord> {
  await tx
    .insert(services)
    .values({ name, proxyPort, policy, createdAt: now, updatedAt: now })
    .onConflictDoNothing({ target: services.name });
  const row = await lockService(tx, name);
  if (!row) throw new Error(`service ${name} vanished`);
  return row;
}

export async function setPolicy(tx: Tx, name: string, policy: ServiceUpdatePolicy, now: Date): Promise<void> {
  await tx.update(services).set({ policy, updatedAt: now }).where(eq(services.name, name));
}

/** The revision with this digest, or a new one numbered after the last. */
export async function revisionFor(
  tx: Tx,
  service: string,
  spec: ServiceRevisionSpec,
  placement: PlacementRow[],
  origin: { runId: string; stageName: string },
  now: Date,
): Promise<{ revision: RevisionRecord; created: boolean }> {
  const digest = revisionDigest(spec, placement);
  const [same] = await tx
    .select()
    .from(serviceRevisions)
    .where(and(eq(serviceRevisions.service, service), eq(serviceRevisions.digest, digest)))
    .orderBy(desc(serviceRevisions.revision))
    .limit(1);
  if (same) return { revision: same, created: false };
  const [last] = await queryRows<{ n: number | null }>(
    tx,
    sql`SELECT max(revision) AS n FROM service_revisions WHERE service = ${service}`,
  );
  const revision = (last?.n ?? 0) + 1;
  const row = { service, revision, spec, placement, digest, ...origin, createdAt: now };
  await tx.insert(serviceRevisions).values(row);
  return { revision: row, created: true };
}

export async function getRevision(db: Db, service: string, revision: number): Promise<RevisionRecord | null> {
  const [row] = await db
    .select()
    .from(serviceRevisions)
    .where(and(eq(serviceRevisions.service, service), eq(serviceRevisions.revision, revision)));
  return row ? { ...row, spec: parseJson(row.spec), placement: parseJson(row.placement) } : null;
}

export async function listRevisions(db: Db, service: string, limit = 100): Promise<RevisionRecord[]> {
  const rows = await db
    .select()
    .from(serviceRevisions)
    .where(eq(serviceRevisions.service, service))
    .orderBy(desc(serviceRevisions.revision))
    .limit(limit);
  return rows.map((r) => ({ ...r, spec: parseJson(r.spec), placement: parseJson(r.placement) }));
}

/** The service now serves `revision` everywhere: the row says so (the one before becomes `previous`). */
export async function setCurrent(tx: Tx, name: string, revision: number | null, now: Date): Promise<void> {
  await tx.execute(sql`UPDATE services SET
      previous_revision = CASE WHEN current_revision IS DISTINCT FROM ${revision}::int THEN current_revision ELSE previous_revision END,
      current_revision = ${revision}::int, updated_at = ${now} WHERE name = ${name}`);
}

export interface HostServing {
  agentId: string;
  agentName: string;
  revision: number | null;
  replicas: number;
}

/**
 * Host `agentId` serves `revision` (null: nothing) from `now`: its open history row is closed
 * and, unless it serves nothing or the same as before, a new one opened.
 */
export async function recordHost(
  tx: Tx,
  service: string,
  host: HostServing,
  origin: { runId: string; runRef: string; action: "update" | "rollback"; reason: string },
  now: Date,
): Promise<void> {
  const [open] = await tx
    .select()
    .from(serviceHistory)
    .where(
      and(eq(serviceHistory.service, service), eq(serviceHistory.agentId, host.agentId), isNull(serviceHistory.until)),
    );
  if (open && open.revision === host.revision && open.replicas === host.replicas) return;
  if (open) await tx.update(serviceHistory).set({ until: now }).where(eq(serviceHistory.id, open.id));
  if (host.revision === null || host.replicas === 0) return;
  await tx.insert(serviceHistory).values({
    id: newId(),
    service,
    revision: host.revision,
    agentId: host.agentId,
    agentName: host.agentName,
    replicas: host.replicas,
    since: now,
    ...origin,
  });
}

export type HistoryRow = typeof serviceHistory.$inferSelect;

export async function serviceHistoryOf(db: Db, service: string, limit = 200): Promise<HistoryRow[]> {
  return db
    .select()
    .from(serviceHistory)
    .where(eq(serviceHistory.service, service))
    .orderBy(desc(serviceHistory.since), serviceHistory.agentName)
    .limit(limit);
}

export async function listServices(db: Db): Promise<ServiceRecord[]> {
  return db.select().from(services).orderBy(services.name);
}

/** Online agents offering docker whose labels include `labels`, by name. */
export async function candidateAgents(tx: Tx, labels: Record<string, string>): Promise<{ id: string; name: string }[]> {
  return queryRows<{ id: string; name: string }>(
    tx,
    sql`SELECT id, name FROM agents WHERE state = 'online' AND capabilities ? 'docker'
      AND labels @> ${JSON.stringify(labels)}::jsonb ORDER BY name`,
  );
}
