// Agents: registration, sessions, heartbeats, drain, loss and revocation.
import { and, asc, eq, inArray, isNull, lt, ne, sql, type SQL } from "drizzle-orm";
import { queryRows, type Db, type Tx } from "./db";
import { withTx } from "./tx";
import { audit, type Actor } from "./audit";
import { agents, joinTokens, registrationNonces } from "./schema";
import { newId } from "../ids";
import { ConflictError, DockyardError, NotFoundError, UnauthenticatedError } from "../errors";
import { ACTIVE_ATTEMPTS_SQL } from "./state-sql";

export type AgentRow = typeof agents.$inferSelect;
/** An agent with the number of attempts it holds now. */
export type AgentWithUsage = AgentRow & { slotsUsed: number };

export interface Registration {
  joinTokenId: string;
  agentId: string;
  /** Hex of the agent's Ed25519 public key. */
  publicKey: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  capacity: number;
  capabilities: string[];
  version: string;
}

/** Live join tokens (id and hash), for checking a registration's proof against each. */
export async function liveJoinTokens(db: Db): Promise<{ id: string; tokenHash: string }[]> {
  return db
    .select({ id: joinTokens.id, tokenHash: joinTokens.tokenHash })
    .from(joinTokens)
    .where(isNull(joinTokens.revokedAt));
}

/**
 * Remember a registration nonce until `expiresAt`; false when it was seen
 * before (a replayed request). Expired nonces are pruned on the way.
 */
export async function useNonce(db: Db, nonce: string, expiresAt: Date, now: Date): Promise<boolean> {
  await db.delete(registrationNonces).where(lt(registrationNonces.expiresAt, now));
  const rows = await db
    .insert(registrationNonces)
    .values({ nonce, expiresAt })
    .onConflictDoNothing()
    .returning({ nonce: registrationNonces.nonce });
  return rows.length === 1;
}

/**
 * (Re)register an agent whose proof has been checked. A known agent id keeps
 * its identity (so it can reap its own containers) only with the same key,
 * and always gets a new session: the old one stops working at once. A revoked
 * agent cannot come back under its id.
 */
export async function registerAgent(
  db: Db,
  reg: Registration,
  now: Date,
): Promise<{ agentId: string; sessionId: string }> {
  const [existing] = reg.agentId
    ? await db
        .select({ publicKey: agents.publicKey, state: agents.state })
        .from(agents)
        .where(eq(agents.id, reg.agentId))
    : [];
  // An id the farm does not know (its row was pruned, see pruneAgents) is not taken as given: the agent
  // comes back as a new one, so a pruned revoked agent never returns under its id.
  const agentId = existing ? reg.agentId : newId();
  if (existing?.state === "revoked")
    throw new UnauthenticatedError(`agent ${agentId} was revoked; register a new agent (new state directory)`);
  if (existing && existing.publicKey !== "" && existing.publicKey !== reg.publicKey) {
    throw new DockyardError(
      "permission_denied",
      `agent id ${agentId} is registered with another key; an agent id cannot be taken over`,
    );
  }
  const sessionId = newId();
  const values = {
    name: reg.name,
    hostname: reg.hostname,
    labels: reg.labels,
    capacity: reg.capacity,
    state: "online",
    publicKey: reg.publicKey,
    sessionId,
    joinTokenId: reg.joinTokenId,
    version: reg.version,
    capabilities: reg.capabilities,
    registeredAt: now,
    lastHeartbeatAt: now,
  };
  // The key is checked again in the statement: two registrations racing for one id cannot both win with different keys.
  return withTx(db, async (tx) => {
    const rows = await tx
      .insert(agents)
      .values({ id: agentId, ...values })
      .onConflictDoUpdate({
        target: agents.id,
        set: { ...values, state: drainingOr("online", false) },
        where: sql`${agents.publicKey} IN ('', ${reg.publicKey}) AND ${agents.state} <> 'revoked'`,
      })
      .returning({ id: agents.id });
    if (rows.length === 0)
      throw new DockyardError(
        "permission_denied",
        `agent id ${agentId} is registered with another key; an agent id cannot be taken over`,
      );
    await audit(tx, {
      actor: { kind: "agent", agentId, name: reg.name },
      action: "agent.registered",
      target: agentId,
      details: { name: reg.name, hostname: reg.hostname, joinTokenId: reg.joinTokenId, again: Boolean(existing) },
      at: now,
    });
    return { agentId, sessionId };
  });
}

/** Record contact from an authenticated agent; false when it must register again (declared lost, left). */
export async function recordHeartbeat(
  db: Db,
  agentId: string,
  sessionId: string,
  draining: boolean,
  now: Date,
  buildCacheBytes = 0,
): Promise<boolean> {
  const rows = await db
    .update(agents)
    .set({ lastHeartbeatAt: now, state: drainingOr("online", draining), buildCacheBytes })
    .where(and(eq(agents.id, agentId), eq(agents.sessionId, sessionId), inArray(agents.state, ["online", "draining"])))
    .returning({ id: agents.id });
  return rows.length > 0;
}

/** `draining` when the agent says so or an admin drained it (drain_requested_at), else `state`. */
function drainingOr(state: string, agentDraining: boolean): SQL {
  return sql`CASE WHEN ${agentDraining}::boolean OR ${agents.drainRequestedAt} IS NOT NULL THEN 'draining' ELSE ${state}::text END`;
}

export async function setDraining(db: Db, agentId: string, draining: boolean): Promise<void> {
  await db
    .update(agents)
    .set({ state: drainingOr("online", draining) })
    .where(and(eq(agents.id, agentId), inArray(agents.state, ["online", "draining"])));
}

/** A clean shutdown: the agent goes offline and its session stops working. */
export async function leaveAgent(db: Db, agentId: string): Promise<void> {
  await db
    .update(agents)
    .set({ state: "offline", sessionId: "" })
    .where(and(eq(agents.id, agentId), ne(agents.state, "revoked")));
}

/** Mark agents silent for longer than `timeoutMs` as lost; returns their ids. */
export async function markLostAgents(db: Db, now: Date, timeoutMs: number): Promise<string[]> {
  const rows = await db
    .update(agents)
    .set({ state: "lost" })
    .where(
      and(
        inArray(agents.state, ["online", "draining"]),
        lt(agents.lastHeartbeatAt, new Date(now.getTime() - timeoutMs)),
      ),
    )
    .returning({ id: agents.id });
  return rows.map((r) => r.id);
}

/** Revoke one agent: its session ends now and its id cannot register again. Returns its id. */
export async function revokeAgent(db: Db, agentId: string, actor: Actor, now: Date): Promise<string> {
  return withTx(db, async (tx) => {
    const rows = await tx
      .update(agents)
      .set({ state: "revoked", sessionId: "", revokedAt: now })
      .where(eq(agents.id, agentId))
      .returning({ id: agents.id, name: agents.name });
    if (rows.length === 0) throw new NotFoundError("agent", agentId);
    await audit(tx, { actor, action: "agent.revoked", target: agentId, details: { name: rows[0]!.name }, at: now });
    return agentId;
  });
}

/**
 * Revoke every agent registered with a join token (the token itself is revoked by the caller, in the same transaction).
 */
export async function revokeAgentsOfToken(tx: Tx, joinTokenId: string, actor: Actor, now: Date): Promise<string[]> {
  const rows = await tx
    .update(agents)
    .set({ state: "revoked", sessionId: "", revokedAt: now })
    .where(and(eq(agents.joinTokenId, joinTokenId), ne(agents.state, "revoked")))
    .returning({ id: agents.id, name: agents.name });
  for (const r of rows)
    await audit(tx, { actor, action: "agent.revoked", target: r.id, details: { name: r.name, joinTokenId }, at: now });
  return rows.map((r) => r.id);
}

/**
 * SQL: agent `a` still holds an attempt of a run that has not ended, or a resource it last reported (an environment).
 */
const HOLDS_LIVE_WORK = sql`(
  EXISTS (SELECT 1 FROM attempts t JOIN runs r ON r.id = t.run_id WHERE t.agent_id = a.id AND r.state IN ('queued', 'running'))
  OR EXISTS (SELECT 1 FROM agent_resources r WHERE r.agent_id = a.id))`;

/** States of an agent that may be pruned or removed: it has no session. */
export const GONE_AGENT_STATES = ["revoked", "lost", "offline"] as const;

/**
 * Delete agents gone (revoked, lost, offline) for longer than `retentionMs` (by their last
 * heartbeat and revocation), except those that still hold attempts of live runs or live
 * environments. Returns what was deleted.
 */
export async function pruneAgents(
  db: Db,
  now: Date,
  retentionMs: number,
): Promise<{ id: string; name: string; state: string }[]> {
  const before = new Date(now.getTime() - retentionMs);
  return queryRows<{ id: string; name: string; state: string }>(
    db,
    sql`
    DELETE FROM agents a
    WHERE a.state IN ('revoked', 'lost', 'offline')
      AND GREATEST(a.last_heartbeat_at, COALESCE(a.revoked_at, a.last_heartbeat_at)) < ${before.toISOString()}::timestamptz
      AND NOT ${HOLDS_LIVE_WORK}
    RETURNING a.id, a.name, a.state`,
  );
}

/**
 * Delete one agent now. NotFoundError for an unknown id; ConflictError while it is online or
 * draining (it has a session) or still holds attempts of live runs or a live environment.
 */
export async function removeAgent(db: Db, agentId: string): Promise<{ name: string; state: string }> {
  const [row] = await queryRows<{ name: string; state: string; holds: boolean }>(
    db,
    sql`SELECT a.name, a.state, ${HOLDS_LIVE_WORK} AS holds FROM agents a WHERE a.id = ${agentId}`,
  );
  if (!row) throw new NotFoundError("agent", agentId);
  if (!(GONE_AGENT_STATES as readonly string[]).includes(row.state)) {
    throw new ConflictError(
      `agent ${agentId} (${row.name}) is ${row.state}: stop it first, or revoke it (dockyard agents revoke ${agentId})`,
      row.state,
    );
  }
  if (row.holds)
    throw new ConflictError(
      `agent ${agentId} (${row.name}) still holds attempts of unfinished runs or a live environment; remove it once they end`,
      row.state,
    );
  const deleted = await queryRows<{ id: string }>(
    db,
    sql`DELETE FROM agents a WHERE a.id = ${agentId} AND a.state IN ('revoked', 'lost', 'offline') AND NOT ${HOLDS_LIVE_WORK} RETURNING a.id`,
  );
  if (deleted.length === 0)
    throw new ConflictError(`agent ${agentId} (${row.name}) changed while being removed; try again`, row.state);
  return { name: row.name, state: row.state };
}

/** Agents with the number of attempts they hold right now. */
export async function listAgents(db: Db): Promise<AgentWithUsage[]> {
  const rows = await db.select().from(agents).orderBy(asc(agents.name));
  const used = await queryRows<{ agent_id: string; n: string }>(
    db,
    sql`
    SELECT agent_id, count(*)::text AS n FROM attempts WHERE state IN ${ACTIVE_ATTEMPTS_SQL} GROUP BY agent_id`,
  );
  const byAgent = new Map(used.map((u) => [u.agent_id, Number(u.n)]));
  return rows.map((r) => ({ ...r, slotsUsed: byAgent.get(r.id) ?? 0 }));
}
