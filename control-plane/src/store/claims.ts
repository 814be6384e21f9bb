// Claiming queued stages and placing them on agents. Any number of server
// replicas may run this at once: stages are claimed with FOR UPDATE SKIP
// LOCKED and agent slots with a conditional increment, so no stage is
// dispatched twice and no agent is overbooked.
import { and, eq, sql } from "drizzle-orm";
import { queryRows, type Db } from "./db";
import { withTx } from "./tx";
import { agents, attempts, stages, type StageSpecRow } from "./schema";
import { appendEvents, stageEvent, type RunEventRecord } from "./events";
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
  spec: StageSpecRow;
  timeoutMs: number | null;
  queuedAt: Date;
}

interface Candidate {
  id: string;
  labels: Record<string, string>;
  free: number;
  executors: string[];
}

/** Pick the eligible agent with the most free slots, avoiding agents that lost this stage before. */
export function chooseAgent(
  candidates: Candidate[], selector: Record<string, string>, executor: string, avoid: string[],
): Candidate | undefined {
  const eligible = candidates.filter((c) => c.free > 0 && c.executors.includes(executor) && labelsMatch(selector, c.labels));
  const preferred = eligible.filter((c) => !avoid.includes(c.id));
  const pool = preferred.length > 0 ? preferred : eligible;
  return pool.reduce<Candidate | undefined>((best, c) => (!best || c.free > best.free ? c : best), undefined);
}

/**
 * Claim up to `limit` queued stages and commit an attempt (with a fresh lease)
 * for each one that fits on an agent. Stages that fit nowhere stay queued.
 */
export async function claimAndPlace(
  db: Db, limit: number, now: Date, leaseTtlMs: number,
): Promise<{ placements: Placement[]; events: RunEventRecord[] }> {
  return withTx(db, async (tx) => {
    const free = await tx.select().from(agents)
      .where(and(eq(agents.state, "online"), sql`${agents.slotsUsed} < ${agents.capacity}`));
    if (free.length === 0) return { placements: [], events: [] };
    const candidates: Candidate[] = free.map((a) => ({
      id: a.id, labels: a.labels, free: a.capacity - a.slotsUsed, executors: a.executors,
    }));
    const queued = await queryRows<{
      id: string; run_id: string; name: string; spec: StageSpecRow; timeout_ms: number | null;
      attempts: number; avoid_agents: string[]; queued_at: Date | string;
    }>(tx, sql`
      SELECT id, run_id, name, spec, timeout_ms, attempts, avoid_agents, queued_at FROM stages
      WHERE state = 'queued' ORDER BY queued_at, position LIMIT ${limit} FOR UPDATE SKIP LOCKED`);
    const placements: Placement[] = [];
    const eventsByRun = new Map<string, ReturnType<typeof stageEvent>[]>();
    for (const stage of queued) {
      const spec = typeof stage.spec === "string" ? (JSON.parse(stage.spec) as StageSpecRow) : stage.spec;
      const avoid = typeof stage.avoid_agents === "string" ? (JSON.parse(stage.avoid_agents) as string[]) : stage.avoid_agents;
      const agent = chooseAgent(candidates, spec.agent, spec.executor, avoid);
      if (!agent) continue;
      const [slot] = await tx.update(agents).set({ slotsUsed: sql`${agents.slotsUsed} + 1` })
        .where(and(eq(agents.id, agent.id), eq(agents.state, "online"), sql`${agents.slotsUsed} < ${agents.capacity}`))
        .returning({ id: agents.id });
      if (!slot) {
        agent.free = 0;
        continue;
      }
      agent.free -= 1;
      const attemptNumber = stage.attempts + 1;
      const placement: Placement = {
        attemptId: newId(), leaseId: newId(), runId: stage.run_id, stageId: stage.id, stageName: stage.name,
        attemptNumber, agentId: agent.id, spec, timeoutMs: stage.timeout_ms, queuedAt: new Date(stage.queued_at),
      };
      await tx.insert(attempts).values({
        id: placement.attemptId, stageId: stage.id, runId: stage.run_id, number: attemptNumber, agentId: agent.id,
        leaseId: placement.leaseId, state: "assigned", leaseExpiresAt: new Date(now.getTime() + leaseTtlMs), assignedAt: now,
      });
      await tx.update(stages).set({ state: "assigned", attempts: attemptNumber, agentId: agent.id, startedAt: null })
        .where(eq(stages.id, stage.id));
      const list = eventsByRun.get(stage.run_id) ?? [];
      list.push(stageEvent(stage.id, placement.attemptId, {
        stageName: stage.name, state: "assigned", attempt: attemptNumber, agentId: agent.id, exitCode: null, reason: "",
      }));
      eventsByRun.set(stage.run_id, list);
      placements.push(placement);
    }
    const events: RunEventRecord[] = [];
    // Sorted so that concurrent claimers lock run rows in one order.
    for (const runId of [...eventsByRun.keys()].sort()) {
      events.push(...(await appendEvents(tx, runId, eventsByRun.get(runId)!, now)));
    }
    return { placements, events };
  });
}
