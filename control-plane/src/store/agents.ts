// Agents: registration, sessions, heartbeats, drain and loss.
import { and, eq, inArray, isNull, lt, asc, sql } from "drizzle-orm";
import { queryRows, type Db } from "./db";
import { agents, joinTokens } from "./schema";
import { hashSecret, newId, newSecret } from "../ids";
import { UnauthenticatedError } from "../errors";

export type AgentRow = typeof agents.$inferSelect;
/** An agent with the number of attempts it holds now. */
export type AgentWithUsage = AgentRow & { slotsUsed: number };

export interface Registration {
  joinToken: string;
  agentId: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  capacity: number;
  executors: string[];
  version: string;
}

/**
 * Check the join token and (re)register the agent. A known agent id keeps its
 * identity (so it can reap its own containers) but always gets a new session;
 * the old session stops working at once.
 */
export async function registerAgent(db: Db, reg: Registration, now: Date): Promise<{ agentId: string; sessionToken: string }> {
  const [token] = await db.select().from(joinTokens)
    .where(and(eq(joinTokens.tokenHash, hashSecret(reg.joinToken)), isNull(joinTokens.revokedAt)));
  if (!token) throw new UnauthenticatedError("join token is unknown or revoked");
  const sessionToken = newSecret("dys_");
  const values = {
    name: reg.name, hostname: reg.hostname, labels: reg.labels, capacity: reg.capacity, state: "online",
    sessionHash: hashSecret(sessionToken), joinTokenId: token.id, version: reg.version, executors: reg.executors,
    registeredAt: now, lastHeartbeatAt: now,
  };
  const agentId = reg.agentId || newId();
  await db.insert(agents).values({ id: agentId, ...values })
    .onConflictDoUpdate({ target: agents.id, set: values });
  return { agentId, sessionToken };
}

/** Resolve a session token to its agent; throws when unknown, replaced or the agent is lost. */
export async function authenticateAgent(db: Db, agentId: string, sessionToken: string): Promise<AgentRow> {
  const [row] = await db.select().from(agents).where(eq(agents.id, agentId));
  if (!row || row.sessionHash !== hashSecret(sessionToken)) throw new UnauthenticatedError("agent session is unknown or replaced");
  return row;
}

export async function recordHeartbeat(db: Db, agentId: string, sessionToken: string, draining: boolean, now: Date): Promise<boolean> {
  const rows = await db.update(agents)
    .set({ lastHeartbeatAt: now, state: draining ? "draining" : "online" })
    .where(and(eq(agents.id, agentId), eq(agents.sessionHash, hashSecret(sessionToken)), inArray(agents.state, ["online", "draining"])))
    .returning({ id: agents.id });
  return rows.length > 0;
}

export async function setDraining(db: Db, agentId: string, draining: boolean): Promise<void> {
  await db.update(agents).set({ state: draining ? "draining" : "online" })
    .where(and(eq(agents.id, agentId), inArray(agents.state, ["online", "draining"])));
}

/** A clean shutdown: the agent goes offline and its session stops working. */
export async function leaveAgent(db: Db, agentId: string): Promise<void> {
  await db.update(agents).set({ state: "offline", sessionHash: "" }).where(eq(agents.id, agentId));
}

/** Mark agents silent for longer than `timeoutMs` as lost; returns their ids. */
export async function markLostAgents(db: Db, now: Date, timeoutMs: number): Promise<string[]> {
  const rows = await db.update(agents).set({ state: "lost" })
    .where(and(inArray(agents.state, ["online", "draining"]), lt(agents.lastHeartbeatAt, new Date(now.getTime() - timeoutMs))))
    .returning({ id: agents.id });
  return rows.map((r) => r.id);
}

/** Agents with the number of attempts they hold right now. */
export async function listAgents(db: Db): Promise<AgentWithUsage[]> {
  const rows = await db.select().from(agents).orderBy(asc(agents.name));
  const used = await queryRows<{ agent_id: string; n: string }>(db, sql`
    SELECT agent_id, count(*)::text AS n FROM attempts WHERE state IN ('assigned','running') GROUP BY agent_id`);
  const byAgent = new Map(used.map((u) => [u.agent_id, Number(u.n)]));
  return rows.map((r) => ({ ...r, slotsUsed: byAgent.get(r.id) ?? 0 }));
}
