// Reads and writes for the reasons queued stages wait (see scheduler/pending-explainer.ts),
// kept off the dispatch path: the claim never reads or writes them, and a placement
// only clears the column (claims.ts placeAttempts).
//  - readQueuedForReasons: the oldest stages queued for longer than a second (the partial
//    index stages_queued_idx), their requirements only;
//  - readAgentsForReasons: every agent but revoked ones, with its used slots;
//  - writeQueuedReasons: per run, the reasons that changed and their `stage` events;
//  - errorQueuedStage: end a stage that never got an attempt as `errored`.
// errorQueuedStage locks as stage-flow.ts does (stage -> run); writeQueuedReasons takes
// the run first but never waits for a lock (SKIP LOCKED), so it cannot deadlock either.
import { and, eq, sql } from "drizzle-orm";
import { parseJson, queryRows, type Db } from "./db";
import { withTx } from "./tx";
import { runs, stages } from "./schema";
import { appendEvents, stageEvent, type RunEventRecord } from "./events";
import { refreshRunState, skipDependents } from "./stage-flow";
import type { AgentSnapshot } from "../scheduler/pending-reasons";
import { ACTIVE_ATTEMPTS_SQL } from "./state-sql";
import { placementHintsSql } from "./claims";
import type { StageType } from "@dockyard/pipeline";
import { AGENT_KINDS } from "../stages";

export interface QueuedForReason {
  id: string;
  runId: string;
  name: string;
  attempts: number;
  selector: Record<string, string>;
  requires: string[];
  avoid: string[];
  reason: string | null;
  queuedAt: Date;
  /** A stage pinned to another's agent (a test on a deploy's environment) runs only there; its kind words why. */
  pinned?: { agentId: string; why: string };
}

/** What the explainer needs of an agent (see scheduler/pending-reasons.ts). */
export type AgentForReason = AgentSnapshot;

/** The `limit` oldest stages queued since before `queuedBefore`. */
export async function readQueuedForReasons(db: Db, queuedBefore: Date, limit: number): Promise<QueuedForReason[]> {
  const rows = await queryRows<{
    id: string;
    run_id: string;
    name: string;
    attempts: number;
    selector: Record<string, string> | string | null;
    requires: string[] | string | null;
    avoid: string[] | string;
    reason: string | null;
    queued_at: string | Date;
    same_agent_as: string | null;
    pin_agent: string | null;
    /** A server stage's child pinned to its agent (stages/server-children.ts). */
    child_pin: string | null;
    type: StageType;
  }>(
    db,
    sql`
    SELECT id, run_id, name, attempts, spec->'agent' AS selector, spec->'requires' AS requires, avoid_agents AS avoid, reason, queued_at,
      spec->>'sameAgentAs' AS same_agent_as, spec->>'pinAgent' AS child_pin, type, ${placementHintsSql}
    FROM stages WHERE state = 'queued' AND runs_on = 'agent' AND queued_at < ${queuedBefore}::timestamptz
    ORDER BY queued_at LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    name: r.name,
    attempts: Number(r.attempts),
    selector: (r.selector === null ? {} : parseJson(r.selector)) ?? {},
    requires: (r.requires === null ? ["docker"] : parseJson(r.requires)) ?? ["docker"],
    avoid: parseJson(r.avoid) ?? [],
    reason: r.reason,
    queuedAt: new Date(r.queued_at),
    ...(r.same_agent_as && { pinned: { agentId: r.pin_agent ?? "", why: pinNote(r.type, r.same_agent_as) } }),
    ...(r.child_pin && { pinned: { agentId: r.child_pin, why: "its parent stage pinned it to one agent" } }),
  }));
}

/**
 * Every agent that is not revoked, with the attempts it holds now. An online agent not
 * heard from since `contactSince` is reported as `silent` (placement passes it over).
 */
export async function readAgentsForReasons(db: Db, contactSince: Date): Promise<AgentForReason[]> {
  const rows = await queryRows<{
    id: string;
    name: string;
    state: string;
    labels: Record<string, string> | string;
    capabilities: string[] | string;
    capacity: number;
    used: number | string;
  }>(
    db,
    sql`
    SELECT a.id, a.name, a.labels, a.capabilities, a.capacity,
      CASE WHEN a.state = 'online' AND a.last_heartbeat_at <= ${contactSince}::timestamptz THEN 'silent' ELSE a.state END AS state,
      (SELECT count(*) FROM attempts t WHERE t.agent_id = a.id AND t.state IN ${ACTIVE_ATTEMPTS_SQL})::int AS used
    FROM agents a WHERE a.state <> 'revoked'`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    state: r.state,
    labels: parseJson(r.labels),
    capabilities: parseJson(r.capabilities),
    capacity: Number(r.capacity),
    used: Number(r.used),
  }));
}

/**
 * Set the reasons of one run's queued stages and append a `stage` event (state `queued`)
 * for each one that changed. A stage placed, canceled or given the same reason by another
 * replica meanwhile is left alone (no event). Returns the events written.
 *
 * It never waits for a lock: a run or stage that someone else holds (a claim, an attempt's
 * end, a log write) is skipped and tried again at the next pass. Waiting would hold the
 * stages' locks meanwhile, and claims skip locked stages: a backlog would drain slower.
 */
export async function writeQueuedReasons(
  db: Db,
  runId: string,
  updates: { stageId: string; reason: string }[],
  now: Date,
): Promise<RunEventRecord[]> {
  if (updates.length === 0) return [];
  const values = updates.map((u) => sql`(${u.stageId}::text, ${u.reason}::text)`);
  return withTx(db, async (tx) => {
    const [run] = await queryRows<{ id: string }>(
      tx,
      sql`SELECT id FROM runs WHERE id = ${runId} FOR UPDATE SKIP LOCKED`,
    );
    if (!run) return [];
    const changed = await queryRows<{ id: string; name: string; attempts: number; reason: string }>(
      tx,
      sql`
      WITH v(id, reason) AS (VALUES ${sql.join(values, sql`, `)}),
      free AS (
        SELECT s.id FROM stages s JOIN v ON v.id = s.id
        WHERE s.run_id = ${runId} AND s.state = 'queued' AND s.reason IS DISTINCT FROM v.reason
        FOR UPDATE OF s SKIP LOCKED)
      UPDATE stages s SET reason = v.reason FROM v, free
      WHERE s.id = v.id AND s.id = free.id
      RETURNING s.id, s.name, s.attempts, s.reason`,
    );
    return appendEvents(
      tx,
      runId,
      changed.map((c) =>
        stageEvent(c.id, null, {
          stageName: c.name,
          state: "queued",
          attempt: Number(c.attempts),
          agentId: "",
          exitCode: null,
          reason: c.reason,
        }),
      ),
      now,
    );
  });
}

/**
 * End a queued stage without an attempt as `errored` with `reason` (it can never be
 * placed): its dependents are skipped and the run's state derived, as for an attempt's
 * end. Nothing happens (and [] is returned) when the stage is no longer queued.
 */
export async function errorQueuedStage(db: Db, stageId: string, reason: string, now: Date): Promise<RunEventRecord[]> {
  return withTx(db, async (tx) => {
    const [stage] = await tx
      .update(stages)
      .set({ state: "errored", reason, finishedAt: now, agentId: null })
      .where(and(eq(stages.id, stageId), eq(stages.state, "queued")))
      .returning({ id: stages.id, name: stages.name, runId: stages.runId, attempts: stages.attempts });
    if (!stage) return [];
    // The run's lock serialises this with other ends deciding about its stages (stage-flow.ts lockRun).
    await tx.select({ id: runs.id }).from(runs).where(eq(runs.id, stage.runId)).for("update");
    const pending = [
      stageEvent(stage.id, null, {
        stageName: stage.name,
        state: "errored",
        attempt: stage.attempts,
        agentId: "",
        exitCode: null,
        reason,
      }),
      ...(await skipDependents(tx, stage.runId, now)),
    ];
    const events = await appendEvents(tx, stage.runId, pending, now);
    events.push(...(await refreshRunState(tx, stage.runId, now)));
    return events;
  });
}

function pinNote(type: StageType, stage: string): string {
  const kind = Object.hasOwn(AGENT_KINDS, type) ? AGENT_KINDS[type] : undefined;
  return kind?.pinNote?.(stage) ?? `waits for the agent of stage '${stage}'`;
}
