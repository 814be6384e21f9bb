// The common end of attempts, `succeeded`, for many attempts (of any runs) at
// once, in three statements inside the caller's transaction:
//  1. attempts and stages to `succeeded`, and their runs' rows locked (in id
//     order, so concurrent batches cannot deadlock on them);
//  2. dependents promoted and each run's stages counted. It must come after the
//     locks, in a statement of its own: it then reads with a fresh snapshot, so
//     it sees a sibling that finished (and committed) while we waited;
//  3. events appended and run states moved, for every run in one insert.
// Under load, the agents' finishes are grouped (see finish-queue.ts), so a
// stage's end costs a fraction of these statements and of one commit.
import { getTableColumns, sql, type SQL } from "drizzle-orm";
import { parseJson, queryRows, type Tx } from "./db";
import { attempts, type StageOutputsRow } from "./schema";
import { stageEvent, type NewRunEvent, type RunEventRecord } from "./events";
import { notifyRunEvents } from "../notify/run-notify";
import { nextRunState, type AttemptRow, type EndedAttempt } from "./run-state";
import { ACTIVE_ATTEMPTS_SQL, NEED_MET_SQL } from "./state-sql";
import { markChildEnded } from "./child-ends";

export interface SucceededEnd {
  attemptId: string;
  /** The reporting agent's lease; absent for the server's own ends. */
  leaseId?: string;
  exitCode: number | null;
  reason: string;
  /** What the attempt reported (build, deploy and test stages); null for none. */
  outputs?: StageOutputsRow | null;
}

interface EndedRow {
  attempt: Record<string, unknown> | string;
  agent_name: string | null;
  stage_type: string | null;
  stage_id: string | null;
  stage_name: string | null;
  run_id: string | null;
  parent_stage_id: string | null;
  locked: string;
}

/** One result per item, in order: null when the attempt was not active under that lease any more. */
export async function endSucceededMany(tx: Tx, items: SucceededEnd[], now: Date): Promise<(EndedAttempt | null)[]> {
  const values = items.map(
    (
      it,
    ) => sql`(${it.attemptId}::text, ${it.leaseId ?? null}::text, ${it.exitCode}::int, ${it.reason || "succeeded"}::text,
    ${it.outputs ? JSON.stringify(it.outputs) : null}::jsonb)`,
  );
  const ended = await queryRows<EndedRow>(
    tx,
    sql`
    WITH v(id, lease_id, exit_code, reason, outputs) AS (VALUES ${sql.join(values, sql`, `)}),
    a AS (
      UPDATE attempts t SET state = 'succeeded', finished_at = ${now}::timestamptz, exit_code = v.exit_code, reason = v.reason
      FROM v WHERE t.id = v.id AND t.state IN ${ACTIVE_ATTEMPTS_SQL} AND (v.lease_id IS NULL OR t.lease_id = v.lease_id)
      RETURNING t.*, v.outputs AS reported),
    s AS (
      -- The reason is kept: the placement set it (a build away from its layer cache) or left it empty.
      UPDATE stages SET state = 'succeeded', exit_code = a.exit_code, finished_at = ${now}::timestamptz, outputs = a.reported
      FROM a WHERE stages.id = a.stage_id AND stages.attempts = a.number AND stages.state IN ${ACTIVE_ATTEMPTS_SQL}
      RETURNING stages.id, stages.name, stages.run_id, stages.spec->>'affinity' AS affinity_key, stages.parent_stage_id),
    -- The next stage with the same affinity key (a build's image: that engine holds its layer
    -- cache) prefers the agent that just succeeded with it; written with the end, not after it.
    aff AS (
      INSERT INTO affinity (key, agent_id, at)
      SELECT DISTINCT ON (s.affinity_key) s.affinity_key, a.agent_id, ${now}::timestamptz
      FROM s JOIN a ON a.stage_id = s.id WHERE s.affinity_key IS NOT NULL ORDER BY s.affinity_key
      ON CONFLICT (key) DO UPDATE SET agent_id = excluded.agent_id, at = excluded.at),
    l AS (SELECT runs.id FROM runs WHERE runs.id IN (SELECT run_id FROM s) ORDER BY runs.id FOR UPDATE)
    SELECT to_jsonb(a) AS attempt, (SELECT name FROM agents WHERE agents.id = a.agent_id) AS agent_name,
      (SELECT type FROM stages WHERE stages.id = a.stage_id) AS stage_type,
      s.id AS stage_id, s.name AS stage_name, s.run_id, s.parent_stage_id, (SELECT count(*) FROM l)::text AS locked
    FROM a LEFT JOIN s ON s.id = a.stage_id`,
  );

  const byAttempt = new Map<string, { attempt: AttemptRow; row: EndedRow }>();
  const children: string[] = [];
  for (const row of ended) {
    const attempt = rowFromJson(parseJson(row.attempt)) as AttemptRow;
    byAttempt.set(attempt.id, { attempt, row });
    if (row.parent_stage_id && row.stage_id) children.push(row.stage_id);
  }
  // Server stages' children: their parents are to be told (one more statement, only when there are some).
  await markChildEnded(tx, children, now);
  // Per run, in batch order: each attempt's stage event, then the run's promotions and state.
  const runs = new Map<string, { ends: { attempt: AttemptRow; events: NewRunEvent[] }[]; tail: NewRunEvent[] }>();
  for (const it of items) {
    const hit = byAttempt.get(it.attemptId);
    if (!hit?.row.stage_id) continue; // stale, or the stage moved on (canceled, say): no events
    const { attempt, row } = hit;
    const run = runs.get(row.run_id!) ?? { ends: [], tail: [] };
    runs.set(row.run_id!, run);
    run.ends.push({
      attempt,
      events: [
        stageEvent(row.stage_id!, attempt.id, {
          stageName: row.stage_name!,
          state: "succeeded",
          attempt: attempt.number,
          agentId: attempt.agentId,
          agentName: row.agent_name ?? "",
          exitCode: attempt.exitCode,
          reason: it.reason === "succeeded" ? "" : it.reason,
        }),
      ],
    });
  }
  const runStates =
    runs.size > 0
      ? await promoteAndCount(tx, [...runs.keys()], now, runs)
      : new Map<string, { state: string; finishedAt: Date | null }>();
  const records =
    runs.size > 0 ? await appendEventsMany(tx, runs, runStates, now) : new Map<string, RunEventRecord[]>();
  // Runs that ended here get their notifications in this transaction (see notify/run-notify.ts).
  await notifyRunEvents(
    tx,
    [...runStates].map(([runId, move]) => ({ runId, event: move.state })),
    now,
  );

  return items.map((it) => {
    const hit = byAttempt.get(it.attemptId);
    if (!hit) return null;
    return {
      attempt: hit.attempt,
      stageType: hit.row.stage_type ?? "unknown",
      events: records.get(it.attemptId) ?? [],
      requeued: false,
      ...(hit.row.parent_stage_id && { childEnded: true }),
    };
  });
}

/** Statement 2: promote every run's ready dependents and count its stages; returns the runs whose state moves. */
async function promoteAndCount(
  tx: Tx,
  runIds: string[],
  now: Date,
  runs: Map<string, { tail: NewRunEvent[] }>,
): Promise<Map<string, { state: string; finishedAt: Date | null }>> {
  const ids = sql.join(
    runIds.map((id) => sql`${id}::text`),
    sql`, `,
  );
  const rows = await queryRows<{
    run_id: string;
    promoted_id: string | null;
    promoted_name: string | null;
    state: string | null;
    n: string | null;
    run_state: string | null;
  }>(
    tx,
    sql`
    WITH p AS (${promoteSql(sql`s.run_id IN (${ids})`, now)})
    SELECT p.run_id, p.id AS promoted_id, p.name AS promoted_name, NULL AS state, NULL AS n, NULL AS run_state FROM p
    UNION ALL
    SELECT r.id, NULL, NULL, s.state, count(s.id)::text, r.state FROM runs r LEFT JOIN stages s ON s.run_id = r.id AND s.parent_stage_id IS NULL
    WHERE r.id IN (${ids}) GROUP BY r.id, r.state, s.state`,
  );
  const moves = new Map<string, { state: string; finishedAt: Date | null }>();
  for (const runId of runIds) {
    const mine = rows.filter((r) => r.run_id === runId);
    const promoted = mine.filter((r) => r.promoted_id !== null);
    const tail = runs.get(runId)!.tail;
    tail.push(...promoted.map((r) => queuedEvent(r.promoted_id!, r.promoted_name!)));
    // The counts were read in the same snapshot as the promotion, so they still see those stages pending.
    const counts = mine
      .filter((r) => r.promoted_id === null)
      .map((r) => ({ run_state: r.run_state!, state: r.state, n: r.n! }));
    for (const c of counts) if (c.state === "pending") c.n = String(Number(c.n) - promoted.length);
    if (promoted.length > 0)
      counts.push({ run_state: counts[0]?.run_state ?? "running", state: "queued", n: String(promoted.length) });
    const next = nextRunState(counts, false);
    if (next) {
      tail.push({ kind: "run", payload: { state: next.state } });
      moves.set(runId, { state: next.state, finishedAt: next.finishedAt ? now : null });
    }
  }
  return moves;
}

/**
 * Statement 3: every run's events in one insert, numbered from one bump of each run's
 * counter (the same scheme as eventsInsert), and the runs' new states. Returns the
 * records by attempt: its stage event, plus its run's tail on the run's last attempt.
 */
async function appendEventsMany(
  tx: Tx,
  runs: Map<string, { ends: { attempt: AttemptRow; events: NewRunEvent[] }[]; tail: NewRunEvent[] }>,
  moves: Map<string, { state: string; finishedAt: Date | null }>,
  at: Date,
): Promise<Map<string, RunEventRecord[]>> {
  const perRun = [...runs].map(([runId, run]) => ({
    runId,
    events: [...run.ends.flatMap((e) => e.events), ...run.tail],
  }));
  const counts = perRun.map(({ runId, events }) => {
    const move = moves.get(runId);
    return sql`(${runId}::text, ${events.length}::int, ${move?.state ?? null}::text, ${move?.finishedAt ?? null}::timestamptz)`;
  });
  const values = perRun.flatMap(({ runId, events }) =>
    events.map(
      (e, i) => sql`(${runId}::text, ${i}::int, ${e.kind}::text,
    ${e.stageId ?? null}::text, ${e.attemptId ?? null}::text, ${JSON.stringify(e.payload)}::jsonb)`,
    ),
  );
  const rows = await queryRows<{ run_id: string; seq: string | number }>(
    tx,
    sql`
    WITH c(run_id, n, state, finished_at) AS (VALUES ${sql.join(counts, sql`, `)}),
    r AS (
      UPDATE runs SET last_event_seq = last_event_seq + c.n, state = coalesce(c.state, runs.state),
        finished_at = CASE WHEN c.state IS NULL THEN runs.finished_at ELSE c.finished_at END
      FROM c WHERE runs.id = c.run_id RETURNING runs.id, runs.last_event_seq, c.n)
    INSERT INTO run_events (run_id, seq, at, kind, stage_id, attempt_id, payload)
    SELECT v.run_id, r.last_event_seq - r.n + v.i + 1, ${at}::timestamptz, v.kind, v.stage_id, v.attempt_id, v.payload
    FROM r JOIN (VALUES ${sql.join(values, sql`, `)}) AS v(run_id, i, kind, stage_id, attempt_id, payload) ON v.run_id = r.id
    RETURNING run_id, seq`,
  );
  const first = new Map<string, number>();
  for (const r of rows) first.set(r.run_id, Math.min(first.get(r.run_id) ?? Infinity, Number(r.seq)));
  const out = new Map<string, RunEventRecord[]>();
  for (const { runId, events } of perRun) {
    const base = first.get(runId);
    if (base === undefined) throw new Error(`run vanished while appending events: ${runId}`);
    const records = events.map((e, i): RunEventRecord => ({ ...e, runId, seq: base + i, at }));
    const ends = runs.get(runId)!.ends;
    let k = 0;
    ends.forEach((end, j) => {
      const last = j === ends.length - 1;
      const take = last ? records.length - k : end.events.length;
      out.set(end.attempt.id, records.slice(k, k + take));
      k += take;
    });
  }
  return out;
}

/**
 * Queue every pending stage (of the runs `runs` selects) whose needs are all met: succeeded,
 * or skipped themselves with `if_skipped: continue` (NEED_MET_SQL). RETURNING id, name, run_id.
 */
function promoteSql(runs: SQL, now: Date): SQL {
  return sql`
    UPDATE stages s SET state = 'queued', queued_at = ${now}::timestamptz
    WHERE ${runs} AND s.state = 'pending' AND NOT EXISTS (
      SELECT 1 FROM stage_edges e JOIN stages d ON d.id = e.needs_stage_id
      WHERE e.stage_id = s.id AND NOT ${NEED_MET_SQL})
    RETURNING s.id, s.name, s.run_id`;
}

/** After a stage skipped itself: queue the run's dependents that continue past it (their `queued` events). */
export async function promoteReady(tx: Tx, runId: string, now: Date): Promise<NewRunEvent[]> {
  const rows = await queryRows<{ id: string; name: string }>(tx, promoteSql(sql`s.run_id = ${runId}`, now));
  return rows.map((r) => queuedEvent(r.id, r.name));
}

function queuedEvent(stageId: string, name: string): NewRunEvent {
  return stageEvent(stageId, null, {
    stageName: name,
    state: "queued",
    attempt: 0,
    agentId: "",
    exitCode: null,
    reason: "",
  });
}

/** An attempts row from `to_jsonb(row)`: column names to property names, values through drizzle's own mapping. */
function rowFromJson(json: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [prop, column] of Object.entries(getTableColumns(attempts))) {
    const value = json[column.name];
    out[prop] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return out;
}
