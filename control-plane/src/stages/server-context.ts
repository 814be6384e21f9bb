// One call of a server-run kind: the attempt locked (FOR UPDATE, so replicas take turns),
// its stage and run read, and a context whose every write joins the caller's transaction.
// What the call produced (ended attempts, events, timers) is collected for after the commit.
import { eq, inArray, sql } from "drizzle-orm";
import { parseJson, queryRows, type Db, type Tx } from "../store/db";
import { attempts, channels, serverTimers, stages, type StageOutputsRow, type StageSpecRow } from "../store/schema";
import { appendEvents, stageEvent, type RunEventKind, type RunEventRecord } from "../store/events";
import { endAttempt, type EndedAttempt } from "../store/stage-flow";
import { runOutputs } from "../store/stage-outputs";
import { ACTIVE_ATTEMPTS_SQL } from "../store/state-sql";
import { newId } from "../ids";
import { SERVER_AGENT_ID } from "../domain/server-agent";
import { enqueueNotification } from "../notify/outbox";
import { notifyRunEvent, runNotifyContext } from "../notify/run-notify";
import type { ServerStage, ServerStageContext, StageNotifications } from "./kind";
import { endLiveChildren, spawnChild } from "./server-children";

/** What one call left to do once its transaction committed. */
export interface CallEffects {
  ended: EndedAttempt[];
  events: RunEventRecord[];
  /** Timers written: the runner re-arms its wake-up for the earliest. */
  timers: Date[];
  /** Children queued (ctx.spawn): the scheduler should look. */
  spawned: number;
}

export const noEffects = (): CallEffects => ({ ended: [], events: [], timers: [], spawned: 0 });

/**
 * End the parent's live children before the parent ends (no child outlives its parent stage),
 * collecting what must be published. Lock order: parent attempt, child attempts, run.
 */
export async function endChildrenOf(
  tx: Tx,
  attemptId: string,
  now: Date,
  why: string,
  out: CallEffects,
): Promise<void> {
  const { ended, events } = await endLiveChildren(tx, attemptId, now, why);
  out.ended.push(...ended);
  out.events.push(...events);
}

/** Drop an ended attempt's timers; ones a replica is firing (locked) it drops itself. */
export async function dropTimers(tx: Tx, attemptId: string): Promise<void> {
  await tx.execute(
    sql`DELETE FROM server_timers WHERE id IN (SELECT id FROM server_timers WHERE attempt_id = ${attemptId} FOR UPDATE SKIP LOCKED)`,
  );
}

/** Lock an active server attempt and read it as its kind sees it; null when it is not active any more. */
export async function lockServerStage(tx: Tx, attemptId: string): Promise<ServerStage | null> {
  const [row] = await queryRows<{
    id: string;
    state: string;
    server_state: unknown;
    stage_id: string;
    name: string;
    type: string;
    spec: unknown;
    timeout_ms: number | null;
    run_id: string;
    run_name: string;
    run_number: number;
    started_by: string;
  }>(
    tx,
    sql`
    SELECT a.id, a.state, a.server_state, s.id AS stage_id, s.name, s.type, s.spec, s.timeout_ms, s.run_id,
      r.name AS run_name, r.number AS run_number, coalesce(u.name, '') AS started_by
    FROM attempts a JOIN stages s ON s.id = a.stage_id JOIN runs r ON r.id = s.run_id LEFT JOIN users u ON u.id = r.started_by
    WHERE a.id = ${attemptId} AND a.agent_id = ${SERVER_AGENT_ID} FOR UPDATE OF a`,
  );
  if (!row || (row.state !== "running" && row.state !== "assigned")) return null;
  // Its live children's attempts too, before the call takes the run's lock (any event does): ending
  // them later in the call (the parent's finish) would otherwise wait on a child's log write or
  // end, which holds the child's attempt and waits for the run (a lock cycle). Order: parent, children, run.
  await tx.execute(sql`SELECT a.id FROM server_children c JOIN attempts a ON a.stage_id = c.stage_id
    WHERE c.parent_attempt_id = ${attemptId} AND c.ended_at IS NULL AND a.state IN ${ACTIVE_ATTEMPTS_SQL} ORDER BY a.id FOR UPDATE OF a`);
  const spec = parseJson(row.spec as StageSpecRow);
  return {
    runId: row.run_id,
    stageId: row.stage_id,
    stageName: row.name,
    attemptId: row.id,
    type: row.type,
    spec: spec.kind,
    refs: spec.refs,
    timeoutMs: row.timeout_ms,
    state: parseJson((row.server_state ?? {}) as Record<string, unknown>),
    run: { name: row.run_name, number: row.run_number, startedBy: row.started_by },
  };
}

/** The kind's context over `tx`; `out` collects what must happen after the commit. */
export function contextFor(tx: Tx, stage: ServerStage, now: Date, out: CallEffects): ServerStageContext {
  const ctx: ServerStageContext = {
    now: () => now,
    tx,
    endChildren: (why) => endChildrenOf(tx, stage.attemptId, now, why, out),
    outputs: () => runOutputs(tx as unknown as Db, stage.runId),
    async setState(patch) {
      stage.state = { ...stage.state, ...patch };
      await tx.update(attempts).set({ serverState: stage.state }).where(eq(attempts.id, stage.attemptId));
    },
    async setTimer(at, what) {
      await tx.insert(serverTimers).values({ id: newId(), attemptId: stage.attemptId, fireAt: at, what });
      out.timers.push(at);
    },
    async event(payload) {
      const kind = stage.type as RunEventKind;
      out.events.push(
        ...(await appendEvents(
          tx,
          stage.runId,
          [
            {
              kind,
              stageId: stage.stageId,
              attemptId: stage.attemptId,
              payload: { stageName: stage.stageName, ...payload },
            },
          ],
          now,
        )),
      );
    },
    notify: stageNotifications(tx, stage, now),
    async spawn(req) {
      const r = await spawnChild(tx, stage, req, now);
      out.events.push(...r.events);
      if (r.queued) out.spawned++;
      return r.child;
    },
    async waiting(reason) {
      const [row] = await tx
        .update(stages)
        .set({ reason })
        .where(eq(stages.id, stage.stageId))
        .returning({ attempts: stages.attempts });
      const event = stageEvent(stage.stageId, stage.attemptId, {
        stageName: stage.stageName,
        state: "running",
        attempt: row?.attempts ?? 1,
        agentId: SERVER_AGENT_ID,
        exitCode: null,
        reason,
      });
      out.events.push(...(await appendEvents(tx, stage.runId, [event], now)));
    },
    async finish(outcome, reason, outputs, stageState) {
      await endChildrenOf(tx, stage.attemptId, now, `its parent stage '${stage.stageName}' ended`, out);
      const ended = await endAttempt(tx, stage.attemptId, stageState === "skipped" ? "canceled" : outcome, {
        exitCode: null,
        reason,
        now,
        outputs: outputs ?? null,
        stageState,
      });
      if (!ended) return;
      // A success keeps no waiting reason: the stage says how it ended (`approved by alice via cli`).
      if (outcome === "succeeded" && !stageState)
        await tx
          .update(stages)
          .set({ reason: reason || null })
          .where(eq(stages.id, stage.stageId));
      // Its timers are of no use now. SKIP LOCKED: one a replica is firing is dropped by that replica
      // (it finds the attempt ended), and this end never waits on it (no lock cycle with fireDue).
      await dropTimers(tx, stage.attemptId);
      out.ended.push(ended);
    },
  };
  return ctx;
}

function stageNotifications(tx: Tx, stage: ServerStage, now: Date): StageNotifications {
  return {
    async unusable(names) {
      if (names.length === 0) return [];
      const rows = await tx
        .select({ name: channels.name, disabledReason: channels.disabledReason, disabledAt: channels.disabledAt })
        .from(channels)
        .where(inArray(channels.name, [...names]));
      const byName = new Map(rows.map((r) => [r.name, r]));
      return names.flatMap((n) => {
        const row = byName.get(n);
        if (!row) return [`channel '${n}' does not exist`];
        return row.disabledAt
          ? [`channel '${n}' is disabled${row.disabledReason ? `: ${row.disabledReason}` : ""}`]
          : [];
      });
    },
    async send(msg) {
      const context = await runNotifyContext(tx, stage.runId, "stage.notify", "", {
        name: stage.stageName,
        state: "running",
      });
      if (!context) return [];
      context.status = context.run?.state ?? "";
      return enqueueNotification(tx, { ...msg, context, runId: stage.runId }, now);
    },
    runEvent: (event, state, extra) =>
      notifyRunEvent(tx, stage.runId, event, now, { name: stage.stageName, state }, extra),
  };
}

export function merge(a: CallEffects, b: CallEffects): CallEffects {
  return {
    ended: [...a.ended, ...b.ended],
    events: [...a.events, ...b.events],
    timers: [...a.timers, ...b.timers],
    spawned: a.spawned + b.spawned,
  };
}
