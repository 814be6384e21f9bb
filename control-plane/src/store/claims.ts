// Claiming queued stages and placing them on agents. Any number of server
// replicas may run this at once: stages are claimed with FOR UPDATE SKIP
// LOCKED, and an agent's free slots are counted under a per-agent advisory
// lock (tried, never waited for), so no stage is dispatched twice and no
// agent is overbooked. Attempt ends never touch the agent row, so finishing
// stages do not queue behind placements, and placements write no run events
// (the stage row says `assigned`; the stream's next event for it is
// `running`, which names the agent), so they never wait on a run's event lock.
import { sql } from "drizzle-orm";
import { queryRows, type Db, type Tx } from "./db";
import { runsStartedInsert, runsStartedRecords, type RunEventRecord } from "./events";
import { withTx } from "./tx";
import type { StageSpecRow } from "./schema";
import { newId } from "../ids";
import { labelsMatch } from "../domain/states";

export interface Placement {
  attemptId: string;
  leaseId: string;
  runId: string;
  stageId: string;
  stageName: string;
  attemptNumber: number;
  agentId: string;
  /** The agent's session hash: the key the NATS wake-up is signed with. */
  sessionKey: string;
  spec: StageSpecRow;
  timeoutMs: number | null;
  queuedAt: Date;
  /** For the attempt stream's open (see PlacementCache). */
  agentName: string;
  assignedAt: Date;
  leaseExpiresAt: Date;
}

export interface Candidate {
  id: string;
  name: string;
  sessionKey: string;
  labels: Record<string, string>;
  free: number;
  executors: string[];
  /** null: not tried yet in this transaction; false: another replica holds it. */
  locked: boolean | null;
}

/** Pick the eligible agent with the most free slots, avoiding agents that lost this stage before. */
export function chooseAgent(
  candidates: Candidate[], selector: Record<string, string>, executor: string, avoid: string[],
): Candidate | undefined {
  const eligible = candidates.filter((c) => c.free > 0 && c.locked !== false && c.executors.includes(executor) && labelsMatch(selector, c.labels));
  const preferred = eligible.filter((c) => !avoid.includes(c.id));
  const pool = preferred.length > 0 ? preferred : eligible;
  return pool.reduce<Candidate | undefined>((best, c) => (!best || c.free > best.free ? c : best), undefined);
}

const parseJson = <T>(v: T | string): T => (typeof v === "string" ? (JSON.parse(v) as T) : v);

interface OnlineAgentRow {
  id: string; name: string; session_hash: string; labels: Record<string, string> | string; capacity: number; executors: string[] | string; used: number;
}

interface QueuedStageRow {
  id: string; run_id: string; name: string; position: number; spec: StageSpecRow | string; timeout_ms: number | null;
  attempts: number; avoid_agents: string[] | string; queued_at: string;
}

/** Lock the agent for this transaction and recount its free slots; false when another replica is placing on it. */
async function lockAgent(tx: Tx, agent: Candidate, capacity: number): Promise<boolean> {
  const [got] = await queryRows<{ ok: boolean; used: string }>(tx, sql`
    SELECT pg_try_advisory_xact_lock(hashtextextended(${agent.id}, 727)) AS ok,
           (SELECT count(*) FROM attempts WHERE agent_id = ${agent.id} AND state IN ('assigned','running'))::text AS used`);
  if (!got?.ok) return false;
  agent.free = capacity - Number(got.used);
  return true;
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
  const rows = await queryRows<{ kind: "agent" | "stage"; row: OnlineAgentRow | QueuedStageRow | string }>(tx, sql`
    WITH online AS (
      SELECT a.id, a.name, a.session_hash, a.labels, a.capacity, a.executors,
             (SELECT count(*) FROM attempts t WHERE t.agent_id = a.id AND t.state IN ('assigned','running')) AS used
      FROM agents a WHERE a.state = 'online')
    SELECT 'agent' AS kind, to_jsonb(o) AS row FROM online o
    UNION ALL
    SELECT 'stage', to_jsonb(q) FROM (
      SELECT id, run_id, name, position, spec, timeout_ms, attempts, avoid_agents, queued_at FROM stages
      -- state is checked again here: FOR UPDATE re-evaluates only this level's WHERE on a row
      -- another replica claimed (and committed) after this statement's snapshot.
      WHERE state = 'queued' AND id IN (
        SELECT id FROM (
          SELECT id, queued_at, row_number() OVER (PARTITION BY run_id ORDER BY queued_at, position) AS turn
          FROM stages WHERE state = 'queued') q
        ORDER BY turn, queued_at LIMIT ${limit * 2})
      FOR UPDATE SKIP LOCKED) q
    WHERE EXISTS (SELECT 1 FROM online WHERE capacity > used)`);
  const online = rows.filter((r) => r.kind === "agent").map((r) => parseJson(r.row) as OnlineAgentRow);
  const queued = rows.filter((r) => r.kind === "stage").map((r) => parseJson(r.row) as QueuedStageRow)
    .sort((a, b) => Date.parse(a.queued_at) - Date.parse(b.queued_at) || a.position - b.position);
  const capacity = new Map(online.map((a) => [a.id, a.capacity]));
  const candidates: Candidate[] = online
    .map((a) => ({ id: a.id, name: a.name, sessionKey: a.session_hash, labels: parseJson(a.labels), free: a.capacity - Number(a.used), executors: parseJson(a.executors), locked: null }))
    .filter((c) => c.free > 0);
  if (candidates.length === 0) return { placements: [], events: [] };
  const placements: Placement[] = [];
  for (const stage of queued) {
    const spec = parseJson(stage.spec);
    let agent: Candidate | undefined;
    while ((agent = chooseAgent(candidates, spec.agent, spec.executor, parseJson(stage.avoid_agents)))) {
      if (agent.locked === null) agent.locked = await lockAgent(tx, agent, capacity.get(agent.id)!);
      if (agent.locked && agent.free > 0) break;
    }
    if (!agent) continue;
    agent.free -= 1;
    const attemptNumber = stage.attempts + 1;
    const placement: Placement = {
      attemptId: newId(), leaseId: newId(), runId: stage.run_id, stageId: stage.id, stageName: stage.name,
      attemptNumber, agentId: agent.id, sessionKey: agent.sessionKey, spec, timeoutMs: stage.timeout_ms, queuedAt: new Date(stage.queued_at),
      agentName: agent.name, assignedAt: now, leaseExpiresAt: new Date(now.getTime() + leaseTtlMs),
    };
    placements.push(placement);
  }
  if (placements.length === 0) return { placements, events: [] };
  // One statement for all attempts and all stages of the batch.
  const expires = placements[0]!.leaseExpiresAt;
  const values = placements.map((p) => sql`(${p.attemptId}::text, ${p.stageId}::text, ${p.runId}::text, ${p.attemptNumber}::int,
    ${p.agentId}::text, ${p.leaseId}::text)`);
  // A run's first placement also moves it from queued to running (a stage is under way:
  // deriveRunState counts `assigned` as started), so an attempt's start never has to.
  const started = await queryRows<{ run_id: string; seq: string | number }>(tx, sql`
    WITH v(id, stage_id, run_id, number, agent_id, lease_id) AS (VALUES ${sql.join(values, sql`, `)}),
    a AS (
      INSERT INTO attempts (id, stage_id, run_id, number, agent_id, lease_id, state, lease_expires_at, assigned_at)
      SELECT id, stage_id, run_id, number, agent_id, lease_id, 'assigned', ${expires}::timestamptz, ${now}::timestamptz FROM v
      RETURNING id),
    s AS (
      UPDATE stages SET state = 'assigned', attempts = v.number, agent_id = v.agent_id, started_at = NULL
      FROM v WHERE stages.id = v.stage_id RETURNING stages.id),
    ${runsStartedInsert(sql`SELECT run_id FROM v`, now)}`);
  const events = runsStartedRecords(started, now);
  return { placements, events };
}
