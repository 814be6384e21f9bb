// How an attempt's end moves its stage, the stage's dependents and the run.
// Every function runs inside the caller's transaction. Lock order (to keep
// replicas from deadlocking): attempt -> stage -> run.
import { and, eq, getTableColumns, inArray, sql, type SQL } from "drizzle-orm";
import { queryRows, type Tx } from "./db";
import { attempts, runs, stages } from "./schema";
import { appendEvents, stageEvent, type NewRunEvent, type RunEventRecord } from "./events";
import { decideAfterAttempt, deriveRunState, type Outcome } from "../domain/states";

export type AttemptRow = typeof attempts.$inferSelect;

export interface EndedAttempt {
  attempt: AttemptRow;
  events: RunEventRecord[];
  /** The stage went back to the queue (a retry). */
  requeued: boolean;
}

/**
 * End an active attempt with `outcome`. Returns null when the attempt was not
 * active any more (someone else ended it first): the caller's write is stale.
 */
export async function endAttempt(
  tx: Tx,
  attemptId: string,
  outcome: Outcome,
  detail: { exitCode: number | null; reason: string; now: Date; leaseId?: string },
): Promise<EndedAttempt | null> {
  if (outcome === "succeeded") return endSucceeded(tx, attemptId, detail);
  const conditions = [eq(attempts.id, attemptId), inArray(attempts.state, ["assigned", "running"])];
  if (detail.leaseId !== undefined) conditions.push(eq(attempts.leaseId, detail.leaseId));
  const [ended] = await tx
    .update(attempts)
    .set({ state: outcome, finishedAt: detail.now, exitCode: detail.exitCode, reason: detail.reason || outcome })
    .where(and(...conditions))
    .returning({ row: attempts, agentName: sql<string>`(SELECT name FROM agents WHERE agents.id = ${attempts.agentId})` });
  if (!ended) return null;
  const { row: attempt, agentName } = ended;
  const pending: NewRunEvent[] = [];
  let requeued = false;
  let runId: string;
  const [stage] = await tx.select().from(stages).where(eq(stages.id, attempt.stageId)).for("update");
  if (!stage || stage.attempts !== attempt.number || !["assigned", "running"].includes(stage.state)) {
    return { attempt, events: [], requeued: false };
  }
  runId = stage.runId;
  const decision = decideAfterAttempt(outcome, attempt.number, { count: stage.retryCount, on: stage.retryOn });
  if (decision.kind === "retry") {
    const avoid = outcome === "lost" ? [...new Set([...stage.avoidAgents, attempt.agentId])] : stage.avoidAgents;
    await tx.update(stages)
      .set({ state: "queued", queuedAt: detail.now, agentId: null, avoidAgents: avoid, reason: `retry after ${decision.reason}` })
      .where(eq(stages.id, stage.id));
    pending.push(stageEvent(stage.id, attempt.id, {
      stageName: stage.name, state: "queued", attempt: attempt.number, agentId: attempt.agentId, agentName,
      exitCode: detail.exitCode, reason: `retry after ${decision.reason}`,
    }));
    requeued = true;
  } else {
    await tx.update(stages)
      .set({ state: decision.state, exitCode: detail.exitCode, reason: decision.reason || null, finishedAt: detail.now })
      .where(eq(stages.id, stage.id));
    pending.push(stageEvent(stage.id, attempt.id, {
      stageName: stage.name, state: decision.state, attempt: attempt.number, agentId: attempt.agentId, agentName,
      exitCode: detail.exitCode, reason: detail.reason || decision.reason,
    }));
    await lockRun(tx, runId);
    // A cancel cancels the dependents itself (cancelRun); anything else skips them.
    if (outcome !== "canceled") pending.push(...(await skipDependents(tx, runId, detail.now)));
  }
  const events = await appendEvents(tx, runId, pending, detail.now);
  events.push(...(await refreshRunState(tx, runId, detail.now)));
  return { attempt, events, requeued };
}

/**
 * The common end, in three statements inside the caller's transaction: (1) attempt and stage
 * to `succeeded` and the run row locked, (2) dependents promoted and the run's stages
 * counted, (3) events appended and the run's state moved, if it changed. Statement 2 must
 * come after the lock in a statement of its own: it then reads with a fresh snapshot, so it
 * sees a sibling that finished (and committed) while we waited for the lock.
 */
async function endSucceeded(
  tx: Tx, attemptId: string, detail: { exitCode: number | null; reason: string; now: Date; leaseId?: string },
): Promise<EndedAttempt | null> {
  const { now, exitCode } = detail;
  const lease = detail.leaseId !== undefined ? sql`AND lease_id = ${detail.leaseId}` : sql``;
  const [ended] = await queryRows<{ attempt: Record<string, unknown> | string; agent_name: string | null; stage_id: string | null; stage_name: string; run_id: string; locked: string }>(tx, sql`
    WITH a AS (
      UPDATE attempts SET state = 'succeeded', finished_at = ${now}::timestamptz, exit_code = ${exitCode}::int, reason = ${detail.reason || "succeeded"}
      WHERE id = ${attemptId} AND state IN ('assigned', 'running') ${lease}
      RETURNING *),
    s AS (
      UPDATE stages SET state = 'succeeded', exit_code = ${exitCode}::int, reason = NULL, finished_at = ${now}::timestamptz
      FROM a WHERE stages.id = a.stage_id AND stages.attempts = a.number AND stages.state IN ('assigned', 'running')
      RETURNING stages.id, stages.name, stages.run_id),
    l AS (SELECT runs.id FROM runs JOIN s ON runs.id = s.run_id FOR UPDATE OF runs)
    SELECT to_jsonb(a) AS attempt, (SELECT name FROM agents WHERE agents.id = a.agent_id) AS agent_name,
      s.id AS stage_id, s.name AS stage_name, s.run_id, (SELECT count(*) FROM l)::text AS locked
    FROM a LEFT JOIN s ON true`);
  if (!ended) return null;
  const json = typeof ended.attempt === "string" ? (JSON.parse(ended.attempt) as Record<string, unknown>) : ended.attempt;
  const attempt = rowFromJson(attempts, json) as AttemptRow;
  if (!ended.stage_id) return { attempt, events: [], requeued: false }; // the stage moved on (canceled, say)
  const runId = ended.run_id;
  const pending: NewRunEvent[] = [stageEvent(ended.stage_id, attempt.id, {
    stageName: ended.stage_name, state: "succeeded", attempt: attempt.number, agentId: attempt.agentId, agentName: ended.agent_name ?? "",
    exitCode, reason: detail.reason === "succeeded" ? "" : detail.reason,
  })];

  const rows = await queryRows<{ promoted_id: string | null; promoted_name: string | null; state: string | null; n: string | null; run_state: string | null }>(tx, sql`
    WITH p AS (${promoteSql(runId, now)})
    SELECT p.id AS promoted_id, p.name AS promoted_name, NULL AS state, NULL AS n, NULL AS run_state FROM p
    UNION ALL
    SELECT NULL, NULL, s.state, count(s.id)::text, r.state FROM runs r LEFT JOIN stages s ON s.run_id = r.id
    WHERE r.id = ${runId} GROUP BY r.state, s.state`);
  const promoted = rows.filter((r) => r.promoted_id !== null);
  pending.push(...promoted.map((r) => queuedEvent(r.promoted_id!, r.promoted_name!)));
  // The counts were read in the same snapshot as the promotion, so they still see those stages pending.
  const counts = rows.filter((r) => r.promoted_id === null).map((r) => ({ run_state: r.run_state!, state: r.state, n: r.n! }));
  for (const c of counts) if (c.state === "pending") c.n = String(Number(c.n) - promoted.length);
  if (promoted.length > 0) counts.push({ run_state: counts[0]?.run_state ?? "running", state: "queued", n: String(promoted.length) });
  const next = nextRunState(counts, false);
  if (next) pending.push({ kind: "run", payload: { state: next.state } });
  const events = await appendEvents(tx, runId, pending, now, next ? { state: next.state, finishedAt: next.finishedAt ? now : null } : undefined);
  return { attempt, events, requeued: false };
}

/** A table row from `to_jsonb(row)`: column names to property names, values through drizzle's own mapping. */
function rowFromJson(table: typeof attempts, json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [prop, column] of Object.entries(getTableColumns(table))) {
    const value = json[column.name];
    out[prop] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out;
}

/**
 * Serialise the decisions that read other stages of the run (promote the
 * join, derive the run state): without it two stages finishing at once each
 * see the other still running and the join stays pending forever.
 */
async function lockRun(tx: Tx, runId: string): Promise<void> {
  await tx.select({ id: runs.id }).from(runs).where(eq(runs.id, runId)).for("update");
}

/** Queue every pending stage of the run whose needs all succeeded (RETURNING id, name). */
function promoteSql(runId: string, now: Date): SQL {
  return sql`
    UPDATE stages s SET state = 'queued', queued_at = ${now}::timestamptz
    WHERE s.run_id = ${runId} AND s.state = 'pending' AND NOT EXISTS (
      SELECT 1 FROM stage_edges e JOIN stages d ON d.id = e.needs_stage_id
      WHERE e.stage_id = s.id AND d.state <> 'succeeded')
    RETURNING s.id, s.name`;
}

function queuedEvent(stageId: string, name: string): NewRunEvent {
  return stageEvent(stageId, null, { stageName: name, state: "queued", attempt: 0, agentId: "", exitCode: null, reason: "" });
}

/** Skip (transitively) every pending stage that needs a stage that did not succeed. */
export async function skipDependents(tx: Tx, runId: string, now: Date): Promise<NewRunEvent[]> {
  const out: NewRunEvent[] = [];
  for (;;) {
    const skipped = await queryRows<{ id: string; name: string }>(tx, sql`
      UPDATE stages s SET state = 'skipped', finished_at = ${now}, reason = 'a needed stage did not succeed'
      WHERE s.run_id = ${runId} AND s.state = 'pending' AND EXISTS (
        SELECT 1 FROM stage_edges e JOIN stages d ON d.id = e.needs_stage_id
        WHERE e.stage_id = s.id AND d.state IN ('failed','errored','canceled','lost','skipped'))
      RETURNING s.id, s.name`);
    if (skipped.length === 0) return out;
    for (const r of skipped) {
      out.push(stageEvent(r.id, null, {
        stageName: r.name, state: "skipped", attempt: 0, agentId: "", exitCode: null, reason: "a needed stage did not succeed",
      }));
    }
  }
}

/** Re-derive the run state from its stages; emits a `run` event when it changed. */
export async function refreshRunState(tx: Tx, runId: string, now: Date, canceled = false): Promise<RunEventRecord[]> {
  const counts = await queryRows<{ run_state: string; state: string | null; n: string }>(tx, sql`
    SELECT r.state AS run_state, s.state, count(s.id)::text AS n
    FROM runs r LEFT JOIN stages s ON s.run_id = r.id WHERE r.id = ${runId} GROUP BY r.state, s.state`);
  const next = nextRunState(counts, canceled);
  if (!next) return [];
  return appendEvents(tx, runId, [{ kind: "run", payload: { state: next.state } }], now, { state: next.state, finishedAt: next.finishedAt ? now : null });
}

/** The run's new state from its stage counts (per state), or null when it does not change. */
function nextRunState(counts: { run_state: string; state: string | null; n: string }[], canceled: boolean): { state: string; finishedAt: boolean } | null {
  if (counts.length === 0) return null;
  const current = counts[0]!.run_state;
  const states = counts.filter((c) => c.state !== null).flatMap((c) => Array<string>(Math.max(0, Number(c.n))).fill(c.state!));
  const next = deriveRunState(states, canceled || current === "canceled");
  if (next === current) return null;
  return { state: next, finishedAt: ["succeeded", "failed", "errored", "canceled"].includes(next) };
}
