// Claiming queued stages and placing them on agents. Any number of server
// replicas may run this at once: stages are claimed with FOR UPDATE SKIP
// LOCKED, so no stage is dispatched twice; an agent is placed on under its
// advisory lock (tried, never waited for: an agent another replica holds is
// skipped), and the placement counts its slots again under that lock and
// places nothing beyond them, so no agent is overbooked. Attempt ends never
// touch the agent row, so finishing stages do not queue behind placements,
// and placements write no run events but a run's first `running` (the stage
// row says `assigned`; the stream's next event for it is `running`, which
// names the agent), so they rarely wait on a run's event lock.
import { sql, type SQL } from "drizzle-orm";
import { parseJson, queryRows, type Db, type Tx } from "./db";
import { runsStartedCte, runsStartedRecords, type RunEventRecord } from "./events";
import { withTx } from "./tx";
import type { StageSpecRow } from "./schema";
import { newId } from "../ids";
import { labelsMatch } from "../domain/states";
import { ACTIVE_ATTEMPTS_SQL } from "./state-sql";
import { agentKind } from "../stages";

export interface Placement {
  attemptId: string;
  leaseId: string;
  runId: string;
  stageId: string;
  stageName: string;
  attemptNumber: number;
  agentId: string;
  spec: StageSpecRow;
  timeoutMs: number | null;
  queuedAt: Date;
  /** For the attempt stream's open (see PlacementCache). */
  agentName: string;
  assignedAt: Date;
  leaseExpiresAt: Date;
  /** Why it is not where its affinity would rather have it (the kind words it); null otherwise. */
  note?: string | null;
}

export interface Candidate {
  id: string;
  name: string;
  labels: Record<string, string>;
  free: number;
  capabilities: string[];
  /** null: not tried yet in this transaction; false: another replica holds it. */
  locked: boolean | null;
}

/** What placement asks of an agent for one stage. */
export interface PlacementNeeds {
  selector: Record<string, string>;
  /** Capabilities the stage's kind needs. */
  requires: string[];
  /** Agents that lost this stage before (used only when no other fits). */
  avoid: string[];
  /** The only agent that may take it (a test on a deploy's environment), or null. */
  pinned: string | null;
  /** The agent its affinity key prefers when it fits (a build's layer cache), or null. */
  prefer: string | null;
}

/**
 * Pick the eligible agent: the pinned one, else the preferred one when it has a free slot,
 * else the one with the most free slots, avoiding agents that lost this stage before.
 */
export function chooseAgent(candidates: Candidate[], needs: PlacementNeeds): Candidate | undefined {
  const eligible = candidates.filter(
    (c) =>
      c.free > 0 &&
      c.locked !== false &&
      (needs.pinned === null || c.id === needs.pinned) &&
      needs.requires.every((cap) => c.capabilities.includes(cap)) &&
      labelsMatch(needs.selector, c.labels),
  );
  const preferred = eligible.filter((c) => !needs.avoid.includes(c.id));
  const pool = preferred.length > 0 ? preferred : eligible;
  const cached = needs.prefer === null ? undefined : pool.find((c) => c.id === needs.prefer);
  if (cached) return cached;
  return pool.reduce<Candidate | undefined>((best, c) => (!best || c.free > best.free ? c : best), undefined);
}

export interface OnlineAgentRow {
  id: string;
  name: string;
  labels: Record<string, string> | string;
  capacity: number;
  capabilities: string[] | string;
  used: number;
  /** Whether the statement took the agent's lock (null: it did not try). */
  locked: boolean | null;
}

export interface QueuedStageRow {
  id: string;
  run_id: string;
  name: string;
  position: number;
  spec: StageSpecRow | string;
  timeout_ms: number | null;
  attempts: number;
  avoid_agents: string[] | string;
  queued_at: string;
  /** The agent of the stage `spec.sameAgentAs` names (null when none or not placed yet). */
  pin_agent?: string | null;
  /** The agent that last succeeded with the stage's affinity key (see the kinds' `affinity`). */
  prefer_agent?: string | null;
  prefer_agent_name?: string | null;
}

/**
 * The CTE `online`: online agents with their used slots, as of the statement's snapshot.
 * With `lock`, each one with a free slot is also locked (tried, never waited for).
 * Only agents heard from within half a lease TTL count: one that lost its replica (or is
 * cut off) would not get the work, and could not renew the lease it came with.
 */
export function onlineAgentsCte(lock: boolean, now: Date, leaseTtlMs: number): SQL {
  const contactSince = new Date(now.getTime() - leaseTtlMs / 2);
  return sql`counted AS (
      SELECT a.id, a.name, a.labels, a.capacity, a.capabilities,
             (SELECT count(*) FROM attempts t WHERE t.agent_id = a.id AND t.state IN ${ACTIVE_ATTEMPTS_SQL}) AS used
      FROM agents a WHERE a.state = 'online' AND a.last_heartbeat_at > ${contactSince}::timestamptz),
    online AS (
      SELECT c.*, ${lock ? sql`CASE WHEN c.capacity > c.used THEN pg_try_advisory_xact_lock(hashtextextended(c.id, 727)) ELSE false END` : sql`NULL::boolean`} AS locked
      FROM counted c)`;
}

/**
 * Per queued stage: the agent a `sameAgentAs` stage ran on (a test joins its deploy's
 * environment on that engine) and the agent its affinity key prefers (and that agent's name).
 */
export const placementHintsSql = sql`
  CASE WHEN spec->>'sameAgentAs' IS NULL THEN NULL ELSE
    (SELECT d.agent_id FROM stages d WHERE d.run_id = stages.run_id AND d.name = stages.spec->>'sameAgentAs') END AS pin_agent,
  CASE WHEN spec->>'affinity' IS NULL THEN NULL ELSE
    (SELECT f.agent_id FROM affinity f WHERE f.key = stages.spec->>'affinity') END AS prefer_agent,
  CASE WHEN spec->>'affinity' IS NULL THEN NULL ELSE
    (SELECT a.name FROM affinity f JOIN agents a ON a.id = f.agent_id WHERE f.key = stages.spec->>'affinity') END AS prefer_agent_name`;

/** What kept a stage from the agent its affinity prefers (for the kind's reason while it runs elsewhere). */
function whyAway(preferred: Candidate | undefined, needs: PlacementNeeds): string {
  return !preferred
    ? "is offline or has no free slot"
    : preferred.free <= 0
      ? "has no free slot"
      : preferred.locked === false
        ? "is being placed on by another replica"
        : needs.avoid.includes(preferred.id)
          ? "lost this stage before"
          : "does not match the stage's labels or capabilities";
}

/** Agents with a free slot that another replica does not hold. */
export function toCandidates(online: OnlineAgentRow[]): Candidate[] {
  return online
    .map((a) => ({
      id: a.id,
      name: a.name,
      labels: parseJson(a.labels),
      free: a.capacity - Number(a.used),
      capabilities: parseJson(a.capabilities),
      locked: a.locked,
    }))
    .filter((c) => c.free > 0 && c.locked !== false);
}

/** Lock the agent for this transaction; false when another replica is placing on it. */
async function lockAgent(tx: Tx, agent: Candidate): Promise<boolean> {
  const [got] = await queryRows<{ ok: boolean }>(
    tx,
    sql`SELECT pg_try_advisory_xact_lock(hashtextextended(${agent.id}, 727)) AS ok`,
  );
  return got?.ok === true;
}

/**
 * Claim up to `limit` queued stages and commit an attempt (with a fresh lease)
 * for each one that fits on an agent. Stages that fit nowhere stay queued.
 */
export async function claimAndPlace(db: Db, limit: number, now: Date, leaseTtlMs: number): Promise<Placed> {
  return withTx(db, (tx) => claimAndPlaceTx(tx, limit, now, leaseTtlMs));
}

export interface Placed {
  placements: Placement[];
  /** Runs that moved to running with their first placement. */
  events: RunEventRecord[];
}

/** claimAndPlace inside the caller's transaction (a submit places its own first stages). */
export async function claimAndPlaceTx(tx: Tx, limit: number, now: Date, leaseTtlMs: number): Promise<Placed> {
  // Runs take turns (the first queued stage of every run, then the second...),
  // so one wide pipeline cannot starve the others; it also spreads concurrent
  // stages over many runs, whose event rows would otherwise be contended.
  // One statement reads the online agents and locks the queued stages, but locks nothing
  // when no agent has a free slot (the EXISTS is a one-time filter, evaluated first).
  const rows = await queryRows<{ kind: "agent" | "stage"; row: OnlineAgentRow | QueuedStageRow | string }>(
    tx,
    sql`
    WITH ${onlineAgentsCte(false, now, leaseTtlMs)}
    SELECT 'agent' AS kind, to_jsonb(o) AS row FROM online o
    UNION ALL
    SELECT 'stage', to_jsonb(q) FROM (
      SELECT id, run_id, name, position, spec, timeout_ms, attempts, avoid_agents, queued_at, ${placementHintsSql} FROM stages
      -- state is checked again here: FOR UPDATE re-evaluates only this level's WHERE on a row
      -- another replica claimed (and committed) after this statement's snapshot.
      -- queued_at in the future: a retry that waits until the old copy must be dead (see endAttempt).
      WHERE state = 'queued' AND runs_on = 'agent' AND queued_at <= ${now}::timestamptz AND id IN (
        SELECT id FROM (
          SELECT id, queued_at, row_number() OVER (PARTITION BY run_id ORDER BY queued_at, position) AS turn
          FROM stages WHERE state = 'queued' AND runs_on = 'agent' AND queued_at <= ${now}::timestamptz) q
        ORDER BY turn, queued_at LIMIT ${limit * 2})
      FOR UPDATE SKIP LOCKED) q
    WHERE EXISTS (SELECT 1 FROM online WHERE capacity > used)`,
  );
  const online = rows.filter((r) => r.kind === "agent").map((r) => parseJson(r.row) as OnlineAgentRow);
  const queued = rows
    .filter((r) => r.kind === "stage")
    .map((r) => parseJson(r.row) as QueuedStageRow)
    .sort((a, b) => Date.parse(a.queued_at) - Date.parse(b.queued_at) || a.position - b.position);
  const placements = await chooseAgents(tx, toCandidates(online), queued, now, leaseTtlMs);
  if (placements.length === 0) return { placements, events: [] };
  return placeAttempts(tx, placements, now);
}

/** Each stage, in order, on the eligible agent with the most free slots, locking agents as they are first chosen. */
export async function chooseAgents(
  tx: Tx,
  candidates: Candidate[],
  queued: QueuedStageRow[],
  now: Date,
  leaseTtlMs: number,
): Promise<Placement[]> {
  const placements: Placement[] = [];
  for (const stage of queued) {
    const spec = parseJson(stage.spec);
    let agent: Candidate | undefined;
    const needs: PlacementNeeds = {
      selector: spec.agent,
      requires: spec.requires,
      avoid: parseJson(stage.avoid_agents),
      // A server stage's child pinned to a host, or a stage that must follow another's agent.
      pinned: spec.pinAgent ?? (spec.sameAgentAs ? (stage.pin_agent ?? "") : null),
      prefer: stage.prefer_agent ?? null,
    };
    const preferred = needs.prefer === null ? undefined : candidates.find((c) => c.id === needs.prefer);
    while ((agent = chooseAgent(candidates, needs))) {
      if (agent.locked === null) agent.locked = await lockAgent(tx, agent);
      if (agent.locked && agent.free > 0) break;
    }
    if (!agent) continue;
    agent.free -= 1;
    const attemptNumber = stage.attempts + 1;
    const placement: Placement = {
      attemptId: newId(),
      leaseId: newId(),
      runId: stage.run_id,
      stageId: stage.id,
      stageName: stage.name,
      attemptNumber,
      agentId: agent.id,
      spec,
      timeoutMs: stage.timeout_ms,
      queuedAt: new Date(stage.queued_at),
      agentName: agent.name,
      assignedAt: now,
      leaseExpiresAt: new Date(now.getTime() + leaseTtlMs),
      note:
        needs.prefer !== null && agent.id !== needs.prefer
          ? (agentKind(spec.type).affinity?.away(stage.prefer_agent_name ?? needs.prefer, whyAway(preferred, needs)) ??
            null)
          : null,
    };
    placements.push(placement);
  }
  return placements;
}

/**
 * One statement for all attempts and all stages of the batch. The free slots the claim
 * counted were read before the agents' locks were taken (a statement's snapshot comes
 * first), so another replica may have placed on an agent in between: each agent's slots
 * are counted again here, under its lock, and an agent without room for its whole share
 * gets none of it (those stages stay queued for the next pass). Returns what was placed.
 */
export async function placeAttempts(tx: Tx, placements: Placement[], now: Date): Promise<Placed> {
  const expires = placements[0]!.leaseExpiresAt;
  const values = placements.map(
    (p) => sql`(${p.attemptId}::text, ${p.stageId}::text, ${p.runId}::text, ${p.attemptNumber}::int,
    ${p.agentId}::text, ${p.leaseId}::text, ${p.note ?? null}::text)`,
  );
  // A run's first placement also moves it from queued to running (a stage is under way:
  // deriveRunState counts `assigned` as started), so an attempt's start never has to.
  const rows = await queryRows<{ kind: "agent" | "run"; id: string; seq: string | number }>(
    tx,
    sql`
    WITH given(id, stage_id, run_id, number, agent_id, lease_id, note) AS (VALUES ${sql.join(values, sql`, `)}),
    ok AS (
      SELECT g.id FROM agents g
      WHERE g.id IN (SELECT agent_id FROM given)
        AND (SELECT count(*) FROM attempts t WHERE t.agent_id = g.id AND t.state IN ${ACTIVE_ATTEMPTS_SQL})
          + (SELECT count(*) FROM given x WHERE x.agent_id = g.id) <= g.capacity),
    v AS (SELECT * FROM given WHERE agent_id IN (SELECT id FROM ok)),
    a AS (
      INSERT INTO attempts (id, stage_id, run_id, number, agent_id, lease_id, state, lease_expires_at, assigned_at)
      SELECT id, stage_id, run_id, number, agent_id, lease_id, 'assigned', ${expires}::timestamptz, ${now}::timestamptz FROM v
      RETURNING id),
    s AS (
      UPDATE stages SET state = 'assigned', attempts = v.number, agent_id = v.agent_id, started_at = NULL, reason = v.note
      FROM v WHERE stages.id = v.stage_id RETURNING stages.id),
    ${runsStartedCte("e", sql`SELECT run_id FROM v`, now)}
    SELECT 'agent' AS kind, id, 0 AS seq FROM ok
    UNION ALL
    SELECT 'run', run_id, seq FROM e`,
  );
  const ok = new Set(rows.filter((r) => r.kind === "agent").map((r) => r.id));
  const events = runsStartedRecords(
    rows.filter((r) => r.kind === "run").map((r) => ({ run_id: r.id, seq: r.seq })),
    now,
  );
  return { placements: placements.filter((p) => ok.has(p.agentId)), events };
}
