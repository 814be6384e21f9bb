// How an attempt's end moves its stage, the stage's dependents and the run.
// Every function runs inside the caller's transaction. Lock order (to keep
// replicas from deadlocking): attempt -> stage -> run.
import { and, eq, inArray, sql, type SQL } from "drizzle-orm";
import { queryRows, type Tx } from "./db";
import { attempts, runs, stages, type StageOutputsRow } from "./schema";
import { appendEvents, stageEvent, type NewRunEvent, type RunEventRecord } from "./events";
import { decideAfterAttempt, type Outcome } from "../domain/states";
import { nextRunState, type EndedAttempt } from "./run-state";
import { endSucceededMany, promoteReady } from "./end-succeeded";
import { UNSUCCESSFUL_STAGES_SQL, FAILED_STAGES_SQL, NEED_MET_SQL, ACTIVE_ATTEMPTS } from "./state-sql";
import { notifyRunEvent } from "../notify/run-notify";
import { markChildEnded } from "./child-ends";

export type { AttemptRow, EndedAttempt } from "./run-state";

/**
 * End an active attempt with `outcome`. Returns null when the attempt was not
 * active any more (someone else ended it first): the caller's write is stale.
 */
export async function endAttempt(
  tx: Tx,
  attemptId: string,
  outcome: Outcome,
  detail: {
    exitCode: number | null;
    reason: string;
    now: Date;
    leaseId?: string;
    outputs?: StageOutputsRow | null;
    /**
     * The server ends an attempt its agent may still run (revocation, a timeout): a retry is
     * placed only once that copy must be dead, at the lease's expiry minus this margin (lease
     * TTL - fence - kill budget; see @dockyard/proto fence.ts). Its queued_at is that moment.
     */
    retryMarginMs?: number;
    /**
     * The stage's end state instead of the outcome's (a server kind's skip: the attempt `canceled`, the stage
     * `skipped`).
     */
    stageState?: "skipped";
  },
): Promise<EndedAttempt | null> {
  if (outcome === "succeeded") {
    const [ended] = await endSucceededMany(
      tx,
      [
        {
          attemptId,
          leaseId: detail.leaseId,
          exitCode: detail.exitCode,
          reason: detail.reason,
          outputs: detail.outputs,
        },
      ],
      detail.now,
    );
    return ended ?? null;
  }
  const conditions = [eq(attempts.id, attemptId), inArray(attempts.state, ACTIVE_ATTEMPTS)];
  if (detail.leaseId !== undefined) conditions.push(eq(attempts.leaseId, detail.leaseId));
  const [ended] = await tx
    .update(attempts)
    .set({ state: outcome, finishedAt: detail.now, exitCode: detail.exitCode, reason: detail.reason || outcome })
    .where(and(...conditions))
    .returning({
      row: attempts,
      agentName: sql<string>`(SELECT name FROM agents WHERE agents.id = ${attempts.agentId})`,
    });
  if (!ended) return null;
  const { row: attempt, agentName } = ended;
  const pending: NewRunEvent[] = [];
  let requeued = false;
  let runId: string;
  const [stage] = await tx.select().from(stages).where(eq(stages.id, attempt.stageId)).for("update");
  if (!stage || stage.attempts !== attempt.number || !ACTIVE_ATTEMPTS.includes(stage.state)) {
    return { attempt, stageType: stage?.type ?? "unknown", events: [], requeued: false };
  }
  runId = stage.runId;
  const decision = decideAfterAttempt(outcome, attempt.number, { count: stage.retryCount, on: stage.retryOn });
  if (decision.kind === "retry") {
    const avoid = outcome === "lost" ? [...new Set([...stage.avoidAgents, attempt.agentId])] : stage.avoidAgents;
    const stopped = retryNotBefore(attempt.leaseExpiresAt, detail);
    const reason = stopped
      ? `retry after ${decision.reason}; placed once the old copy is stopped`
      : `retry after ${decision.reason}`;
    await tx
      .update(stages)
      .set({ state: "queued", queuedAt: stopped ?? detail.now, agentId: null, avoidAgents: avoid, reason })
      .where(eq(stages.id, stage.id));
    // The attempt's own end first (lost, timeout, failed, errored, with its reason), so every
    // view shows it as an attempt of its own; then the stage going back to the queue.
    pending.push(
      stageEvent(stage.id, attempt.id, {
        stageName: stage.name,
        state: outcome,
        attempt: attempt.number,
        agentId: attempt.agentId,
        agentName,
        exitCode: detail.exitCode,
        reason: attempt.reason ?? outcome,
      }),
    );
    pending.push(
      stageEvent(stage.id, attempt.id, {
        stageName: stage.name,
        state: "queued",
        attempt: attempt.number,
        agentId: attempt.agentId,
        agentName,
        exitCode: detail.exitCode,
        reason,
      }),
    );
    requeued = true;
  } else {
    const state = detail.stageState ?? decision.state;
    await tx
      .update(stages)
      // The attempt's own reason (`image 'x' not found on this host`), not just its outcome's name.
      .set({
        state,
        exitCode: detail.exitCode,
        reason: detail.reason || decision.reason || null,
        finishedAt: detail.now,
        outputs: detail.outputs ?? null,
      })
      .where(eq(stages.id, stage.id));
    pending.push(
      stageEvent(stage.id, attempt.id, {
        stageName: stage.name,
        state,
        attempt: attempt.number,
        agentId: attempt.agentId,
        agentName,
        exitCode: detail.exitCode,
        reason: detail.reason || decision.reason,
      }),
    );
    await lockRun(tx, runId);
    // A server stage's child has no dependents and no say in the run's state: its parent is told.
    if (stage.parentStageId !== null) {
      await markChildEnded(tx, [stage.id], detail.now);
      return {
        attempt,
        stageType: stage.type,
        events: await appendEvents(tx, runId, pending, detail.now),
        requeued,
        childEnded: true,
      };
    }
    // A cancel cancels the dependents itself (cancelRun); anything else skips them.
    if (outcome !== "canceled" || state === "skipped") pending.push(...(await skipDependents(tx, runId, detail.now)));
    // A stage that skipped itself lets go the dependents that continue past it (if_skipped: continue).
    if (state === "skipped") pending.push(...(await promoteReady(tx, runId, detail.now)));
  }
  const events = await appendEvents(tx, runId, pending, detail.now);
  events.push(...(await refreshRunState(tx, runId, detail.now)));
  return { attempt, stageType: stage.type, events, requeued };
}

/** When a retry may be placed (the claim takes a stage once its queued_at has passed); null: now. */
function retryNotBefore(leaseExpiresAt: Date, detail: { now: Date; retryMarginMs?: number }): Date | null {
  if (detail.retryMarginMs === undefined) return null;
  const at = leaseExpiresAt.getTime() - detail.retryMarginMs;
  return at > detail.now.getTime() ? new Date(at) : null;
}

/**
 * Serialise the decisions that read other stages of the run (promote the
 * join, derive the run state): without it two stages finishing at once each
 * see the other still running and the join stays pending forever.
 */
async function lockRun(tx: Tx, runId: string): Promise<void> {
  await tx.select({ id: runs.id }).from(runs).where(eq(runs.id, runId)).for("update");
}

/**
 * Skip (transitively) every pending stage that needs a stage that did not succeed, but for a
 * need that skipped itself and that the stage continues past (`if_skipped: continue`, NEED_MET_SQL).
 * The reason says whether a need failed (or was skipped for a failure further up) or was only skipped.
 */
export async function skipDependents(tx: Tx, runId: string, now: Date): Promise<NewRunEvent[]> {
  const out: NewRunEvent[] = [];
  const blocking = (which: SQL) => sql`
    SELECT 1 FROM stage_edges e JOIN stages d ON d.id = e.needs_stage_id
    WHERE e.stage_id = s.id AND ${which} AND NOT ${NEED_MET_SQL}`;
  // Only the reason reads the reason: a need skipped for a failure passes "did not succeed" on.
  const failed = sql`(d.state IN ${FAILED_STAGES_SQL} OR (d.state = 'skipped' AND d.reason = ${FAILED_NEED}))`;
  for (;;) {
    const skipped = await queryRows<{ id: string; name: string; reason: string }>(
      tx,
      sql`
      UPDATE stages s SET state = 'skipped', finished_at = ${now},
        reason = CASE WHEN EXISTS (${blocking(failed)}) THEN ${FAILED_NEED} ELSE ${SKIPPED_NEED} END
      WHERE s.run_id = ${runId} AND s.state = 'pending' AND EXISTS (${blocking(sql`d.state IN ${UNSUCCESSFUL_STAGES_SQL}`)})
      RETURNING s.id, s.name, s.reason`,
    );
    if (skipped.length === 0) return out;
    for (const r of skipped) {
      out.push(
        stageEvent(r.id, null, {
          stageName: r.name,
          state: "skipped",
          attempt: 0,
          agentId: "",
          exitCode: null,
          reason: r.reason,
        }),
      );
    }
  }
}

const FAILED_NEED = "a needed stage did not succeed";
const SKIPPED_NEED = "a needed stage was skipped";

/**
 * Re-derive the run state from its stages (server stages' children do not count: their parents do); emits a `run` event
 * when it changed.
 */
export async function refreshRunState(tx: Tx, runId: string, now: Date, canceled = false): Promise<RunEventRecord[]> {
  const counts = await queryRows<{ run_state: string; state: string | null; n: string }>(
    tx,
    sql`
    SELECT r.state AS run_state, s.state, count(s.id)::text AS n
    FROM runs r LEFT JOIN stages s ON s.run_id = r.id AND s.parent_stage_id IS NULL WHERE r.id = ${runId} GROUP BY r.state, s.state`,
  );
  const next = nextRunState(counts, canceled);
  if (!next) return [];
  const events = await appendEvents(tx, runId, [{ kind: "run", payload: { state: next.state } }], now, {
    state: next.state,
    finishedAt: next.finishedAt ? now : null,
  });
  // The run's notifications commit with its new state (the outbox row is in this transaction).
  await notifyRunEvent(tx, runId, next.state, now);
  return events;
}
