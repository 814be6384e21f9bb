// Runs and their stages: reads (one run, a filtered page of runs) and cancel. Creating one: run-create.ts.
import { audit, type Actor } from "./audit";
import { and, desc, eq, getTableColumns, gte, inArray, lt, notInArray, or, sql } from "drizzle-orm";
import type { Db, Tx } from "./db";
import type { RunListQuery } from "@dockyard/web";
import { withTx } from "./tx";
import { attempts, runs, stages, users } from "./schema";
import { appendEvents, stageEvent, type RunEventRecord } from "./events";
import { endAttempt, refreshRunState, type EndedAttempt } from "./stage-flow";
import { readStages, type StageWithAttempts } from "./stage-reads";
import { ConflictError, NotFoundError } from "../errors";
import { TERMINAL_STAGE_STATES, isTerminalRun } from "../domain/states";
import { SERVER_AGENT_ID } from "../domain/server-agent";
import { withTimeLeft, withWaitingReasons } from "../domain/waiting-reason";
import { ACTIVE_ATTEMPTS } from "./state-sql";

export type RunRow = typeof runs.$inferSelect;

export type StageRow = typeof stages.$inferSelect;

export interface RunWithStages extends RunRow {
  /** The name of the user who started it ('' for runs older than users, or where not read). */
  startedByName?: string;
  /** In position order, each with its needs and every attempt it made. */
  stages: StageWithAttempts[];
}

/** A run's columns and the name of the user who started it ('' when none). */
const runColumns = { ...getTableColumns(runs), startedByName: sql<string>`coalesce(${users.name}, '')` };

export async function getRun(db: Db, runId: string, now = new Date()): Promise<RunWithStages> {
  const [run] = await db
    .select(runColumns)
    .from(runs)
    .leftJoin(users, eq(users.id, runs.startedBy))
    .where(eq(runs.id, runId));
  if (!run) throw new NotFoundError("run", runId);
  const byRun = await readStages(db, [runId]);
  // A pending stage's reason (the needs it waits for) is derived here, not stored; a waiting approval's time left too.
  return { ...run, stages: withTimeLeft(withWaitingReasons(byRun.get(runId) ?? []), now) };
}

/**
 * What listRuns matches: every filter given must hold (since: created_at >= since; until: created_at < until; after:
 * keyset, only runs older than that (created_at, id)). The API's query, checked by parseRunListParams.
 */
export type RunListFilter = RunListQuery;

/**
 * The newest runs matching `f`, each with its stages (read for all of them in one more statement), newest
 * first (created_at, then id, both descending: a total order, so a keyset page never skips or repeats a
 * run), and whether more match after the last one.
 */
export async function listRuns(db: Db, f: RunListFilter): Promise<{ runs: RunWithStages[]; more: boolean }> {
  const where = and(
    f.state ? eq(runs.state, f.state) : undefined,
    f.pipeline ? eq(runs.name, f.pipeline) : undefined,
    f.branch ? eq(runs.branch, f.branch) : undefined,
    f.since ? gte(runs.createdAt, f.since) : undefined,
    f.until ? lt(runs.createdAt, f.until) : undefined,
    f.after
      ? or(lt(runs.createdAt, f.after.createdAt), and(eq(runs.createdAt, f.after.createdAt), lt(runs.id, f.after.id)))
      : undefined,
  );
  const found = await db
    .select(runColumns)
    .from(runs)
    .leftJoin(users, eq(users.id, runs.startedBy))
    .where(where)
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(f.limit + 1);
  const rows = found.slice(0, f.limit);
  const byRun = await readStages(
    db,
    rows.map((r) => r.id),
  );
  const now = new Date();
  return {
    runs: rows.map((r) => ({ ...r, stages: withTimeLeft(withWaitingReasons(byRun.get(r.id) ?? []), now) })),
    more: found.length > f.limit,
  };
}

/**
 * Cancel every open stage of the run. Returns the attempts that were active, ended as
 * canceled with their events (their agents must be told to stop), and the other events
 * written (stages without an attempt, the run's end), in seq order after theirs.
 * A run that already finished is left as it is: ConflictError (`already finished: <state>`).
 */
export async function cancelRun(
  db: Db,
  runId: string,
  now: Date,
  actor: Actor,
  /** A server-run attempt's kind says what the cancel means to it (before it ends), in this transaction. */
  cancelServerAttempt?: (tx: Tx, attemptId: string, now: Date) => Promise<RunEventRecord[]>,
): Promise<{ ended: EndedAttempt[]; events: RunEventRecord[]; serverEvents: RunEventRecord[] }> {
  return withTx(db, async (tx) => {
    const [run] = await tx.select({ id: runs.id, state: runs.state }).from(runs).where(eq(runs.id, runId));
    if (!run) throw new NotFoundError("run", runId);
    if (isTerminalRun(run.state)) throw alreadyFinished(runId, run.state);
    const active = await tx
      .select({ id: attempts.id, agentId: attempts.agentId })
      .from(attempts)
      .where(and(eq(attempts.runId, runId), inArray(attempts.state, ACTIVE_ATTEMPTS)));
    const ended: EndedAttempt[] = [];
    const events: RunEventRecord[] = [];
    const serverEvents: RunEventRecord[] = [];
    // Server attempts first: one may have children among the others, and its runner's calls lock
    // it before its children's attempts (stages/server-context.ts); the cancel takes them in that order.
    active.sort((x, y) => Number(y.agentId === SERVER_AGENT_ID) - Number(x.agentId === SERVER_AGENT_ID));
    for (const a of active) {
      if (a.agentId === SERVER_AGENT_ID && cancelServerAttempt)
        serverEvents.push(...(await cancelServerAttempt(tx, a.id, now)));
      const e = await endAttempt(tx, a.id, "canceled", { exitCode: null, reason: "canceled by user", now });
      if (e) ended.push(e);
    }
    const open = await tx
      .update(stages)
      .set({ state: "canceled", reason: "canceled by user", finishedAt: now })
      .where(and(eq(stages.runId, runId), notInArray(stages.state, [...TERMINAL_STAGE_STATES])))
      .returning({ id: stages.id, name: stages.name, attempts: stages.attempts });
    if (ended.length === 0 && open.length === 0) {
      // The run's last stage ended since the read above (its end holds the run lock while
      // it commits): what we read then is stale, the run finished on its own.
      const [current] = await tx.select({ state: runs.state }).from(runs).where(eq(runs.id, runId)).for("update");
      if (current && isTerminalRun(current.state)) throw alreadyFinished(runId, current.state);
    }
    events.push(
      ...(await appendEvents(
        tx,
        runId,
        open.map((s) =>
          stageEvent(s.id, null, {
            stageName: s.name,
            state: "canceled",
            attempt: s.attempts,
            agentId: "",
            exitCode: null,
            reason: "canceled by user",
          }),
        ),
        now,
      )),
    );
    events.push(...(await refreshRunState(tx, runId, now, true)));
    await audit(tx, {
      actor,
      action: "run.canceled",
      target: runId,
      details: { attemptsEnded: ended.length, stagesCanceled: open.length },
      at: now,
    });
    return { ended, events, serverEvents };
  });
}

function alreadyFinished(runId: string, state: string): ConflictError {
  return new ConflictError(`run ${runId} already finished: ${state}`, state);
}

export { listEvents } from "./event-reads";
