// Creating a run: the run, its stages, their edges and first events written, and its ready stages
// placed on agents, in one transaction (with the run number taken just before, in its own statement).
import { actorName, type Actor } from "./audit";
import { eq, inArray, sql } from "drizzle-orm";
import type { PipelineSpec, RegistrySpec } from "@dockyard/pipeline";
import { queryRows, type Db } from "./db";
import { retryOf, runsOnOf, stageSpecRow } from "../stages/stage-row";
import { withTx } from "./tx";
import { affinity, agents, type StageOutputsRow } from "./schema";
import { stageEvent, type NewRunEvent, type RunEventRecord } from "./events";
import type { Placed } from "./claims";
import { insertAndPlace } from "./submit-placement";
import type { StageWithAttempts } from "./stage-reads";
import { newId } from "../ids";
import { waitingReason, withWaitingReasons } from "../domain/waiting-reason";
import type { RunRow, RunWithStages, StageRow } from "./runs";

/** Where a run comes from, besides its pipeline file. */
export interface RunOrigin {
  /** Free text shown with the run (the CLI sends the file's path). */
  source: string;
  commit: string;
  /** The pushed branch (a git push webhook); '' otherwise. */
  branch: string;
  /** The directory the CLI uploaded (a tar), for pipelines without a git source. */
  sourceTar: Buffer | null;
  /** The server's registry, for pipelines that name none. */
  defaultRegistry: RegistrySpec | null;
  /** Who submitted it: written as the run's started_by and in the audit log, with the run. */
  startedBy: Actor;
  /**
   * A re-run's stages that are not run again (by name): written as succeeded with the earlier run's outputs, and
   * `reason` saying so; the stages needing only them are ready at once.
   */
  reuse?: { fromRunId: string; outputs: ReadonlyMap<string, StageOutputsRow | null> };
}

/**
 * The agents these affinity keys prefer (what the claim reads with placementHintsSql, for the submit's own placement).
 */
async function preferredAgents(db: Db, keys: string[]): Promise<Map<string, { id: string; name: string }>> {
  if (keys.length === 0) return new Map();
  const rows = await db
    .select({ key: affinity.key, id: affinity.agentId, name: agents.name })
    .from(affinity)
    .innerJoin(agents, eq(agents.id, affinity.agentId))
    .where(inArray(affinity.key, keys));
  return new Map(rows.map((r) => [r.key, { id: r.id, name: r.name }]));
}

/** The next DOCKYARD_RUN_NUMBER of a pipeline name (its own statement: a failed submit leaves a gap). */
async function nextRunNumber(db: Db, name: string): Promise<number> {
  const [row] = await queryRows<{ last: number }>(
    db,
    sql`
    INSERT INTO pipeline_counters (name, last) VALUES (${name}, 1)
    ON CONFLICT (name) DO UPDATE SET last = pipeline_counters.last + 1 RETURNING last`,
  );
  return Number(row!.last);
}
/**
 * Write the run, its stages, their edges and first events, and place its ready stages in
 * the same transaction (submit-placement.ts): the run's first stages are on agents when
 * the submit commits, a commit and a scheduler wake-up sooner than a separate pass.
 */
export async function createRun(
  db: Db,
  pipeline: PipelineSpec,
  yaml: string,
  origin: RunOrigin,
  now: Date,
  place: { limit: number; leaseTtlMs: number },
): Promise<{ run: RunWithStages; events: RunEventRecord[]; placed: Placed }> {
  const runId = newId();
  const ids = new Map(pipeline.stages.map((s) => [s.name, newId()]));
  const number = await nextRunNumber(db, pipeline.name);
  const identity = { id: runId, name: pipeline.name, number, commit: origin.commit };
  const registry = pipeline.registry ?? origin.defaultRegistry;
  const runRow: RunRow = {
    id: runId,
    name: pipeline.name,
    source: origin.source,
    state: "queued",
    pipelineYaml: yaml,
    createdAt: now,
    finishedAt: null,
    lastEventSeq: 0,
    number,
    commit: origin.commit,
    branch: origin.branch,
    startedBy: origin.startedBy.kind === "user" ? origin.startedBy.userId : null,
    notify: pipeline.notify.length > 0 ? pipeline.notify : null,
  };
  const reused = origin.reuse?.outputs ?? new Map<string, StageOutputsRow | null>();
  const initialState = (name: string, needs: string[]) =>
    reused.has(name) ? "succeeded" : needs.every((n) => reused.has(n)) ? "queued" : "pending";
  const stageRows = pipeline.stages.map((s, position): StageRow => ({
    id: ids.get(s.name)!,
    runId,
    name: s.name,
    position,
    state: initialState(s.name, s.needs),
    queuedAt: initialState(s.name, s.needs) === "queued" ? now : null,
    type: s.type,
    runsOn: runsOnOf(s),
    spec: stageSpecRow(s, pipeline, identity, registry),
    outputs: reused.get(s.name) ?? null,
    timeoutMs: s.timeoutMs,
    retryCount: retryOf(s).count,
    retryOn: [...retryOf(s).on],
    attempts: 0,
    avoidAgents: [],
    agentId: null,
    exitCode: null,
    reason: reused.has(s.name) ? `reused from run ${origin.reuse!.fromRunId}` : null,
    startedAt: null,
    finishedAt: reused.has(s.name) ? now : null,
    parentStageId: null,
  }));
  const edges = pipeline.stages.flatMap((s) =>
    s.needs.map((n) => ({
      stageId: ids.get(s.name)!,
      needsStageId: ids.get(n)!,
      continueIfSkipped: s.continueIfSkipped.includes(n),
    })),
  );
  const newEvents: NewRunEvent[] = [
    { kind: "run", payload: { state: "queued" } },
    ...stageRows.map((s, i) =>
      stageEvent(s.id, null, {
        stageName: s.name,
        state: s.state,
        attempt: 0,
        agentId: "",
        exitCode: null,
        reason:
          s.state === "pending"
            ? waitingReason(pipeline.stages[i]!.needs, (n) => (reused.has(n) ? "succeeded" : undefined))
            : (s.reason ?? ""),
      }),
    ),
  ];
  // CTEs that write the run, its stages, their edges and their first events (see insertAndPlace).
  const stageValues = stageRows.map(
    (
      r,
    ) => sql`(${r.id}::text, ${r.name}::text, ${r.position}::int, ${r.state}::text, ${r.type}::text, ${r.runsOn}::text,
    ${JSON.stringify(r.spec)}::jsonb, ${r.timeoutMs}::int, ${r.retryCount}::int, ${JSON.stringify(r.retryOn)}::jsonb, ${r.queuedAt}::timestamptz,
    ${r.outputs ? JSON.stringify(r.outputs) : null}::jsonb, ${r.reason}::text, ${r.finishedAt}::timestamptz)`,
  );
  const edgeValues = edges.map(
    (e) => sql`(${e.stageId}::text, ${e.needsStageId}::text, ${e.continueIfSkipped}::boolean)`,
  );
  const eventValues = newEvents.map(
    (e, i) => sql`(${i + 1}::bigint, ${e.kind}::text, ${e.stageId ?? null}::text, ${JSON.stringify(e.payload)}::jsonb)`,
  );
  const insert = sql`
    r AS (
      INSERT INTO runs (id, name, source, state, pipeline_yaml, created_at, last_event_seq, number, commit, branch, started_by, notify)
      VALUES (${runId}, ${runRow.name}, ${origin.source}, 'queued', ${yaml}, ${now}::timestamptz, ${newEvents.length}, ${number}, ${origin.commit}, ${origin.branch}, ${runRow.startedBy},
        ${runRow.notify ? JSON.stringify(runRow.notify) : null}::jsonb)
      RETURNING id),
    au AS (
      INSERT INTO audit_log (at, actor_user_id, actor, action, target, details)
      SELECT ${now}::timestamptz, ${runRow.startedBy}::text, ${actorName(origin.startedBy)}, 'run.started', r.id,
        ${JSON.stringify({ name: runRow.name, number, source: origin.source, commit: origin.commit, ...(origin.branch && { branch: origin.branch }) })}::jsonb FROM r RETURNING 1),
    s AS (
      INSERT INTO stages (id, run_id, name, position, state, type, runs_on, spec, timeout_ms, retry_count, retry_on, queued_at, outputs, reason, finished_at)
      SELECT v.id, r.id, v.name, v.position, v.state, v.type, v.runs_on, v.spec, v.timeout_ms, v.retry_count, v.retry_on, v.queued_at, v.outputs, v.reason, v.finished_at
      FROM r, (VALUES ${sql.join(stageValues, sql`, `)}) AS v(id, name, position, state, type, runs_on, spec, timeout_ms, retry_count, retry_on, queued_at, outputs, reason, finished_at)
      RETURNING id)
    ${
      origin.sourceTar
        ? sql`, src AS (
      INSERT INTO run_sources (run_id, tar, size_bytes) SELECT r.id, ${origin.sourceTar}::bytea, ${origin.sourceTar.length}::int FROM r RETURNING 1)`
        : sql``
    }
    ${
      edges.length > 0
        ? sql`, e AS (
      INSERT INTO stage_edges (run_id, stage_id, needs_stage_id, continue_if_skipped)
      SELECT r.id, v.stage_id, v.needs_id, v.continue_if_skipped
      FROM r, (VALUES ${sql.join(edgeValues, sql`, `)}) AS v(stage_id, needs_id, continue_if_skipped) RETURNING 1)`
        : sql``
    }
    , ev AS (
      INSERT INTO run_events (run_id, seq, at, kind, stage_id, payload)
      SELECT r.id, v.seq, ${now}::timestamptz, v.kind, v.stage_id, v.payload
      FROM r, (VALUES ${sql.join(eventValues, sql`, `)}) AS v(seq, kind, stage_id, payload) RETURNING 1)`;
  // Server-run stages (approval) are started by the server stage runner, not placed on agents.
  const readyRows = stageRows.filter((s) => s.state === "queued" && s.runsOn === "agent");
  const preferred = await preferredAgents(db, [
    ...new Set(readyRows.flatMap((s) => (s.spec.affinity ? [s.spec.affinity] : []))),
  ]);
  const ready = readyRows.map((s) => ({
    id: s.id,
    run_id: runId,
    name: s.name,
    position: s.position,
    spec: s.spec,
    timeout_ms: s.timeoutMs,
    attempts: 0,
    avoid_agents: [],
    queued_at: now.toISOString(),
    prefer_agent: s.spec.affinity ? (preferred.get(s.spec.affinity)?.id ?? null) : null,
    prefer_agent_name: s.spec.affinity ? (preferred.get(s.spec.affinity)?.name ?? null) : null,
  }));
  const placed = await withTx(db, (tx) => insertAndPlace(tx, insert, ready, place.limit, now, place.leaseTtlMs));
  const events: RunEventRecord[] = newEvents.map((e, i) => ({ ...e, runId, seq: i + 1, at: now }));
  const run = {
    ...runRow,
    startedByName: origin.startedBy.kind === "user" ? origin.startedBy.name : "",
    lastEventSeq: events.length,
    stages: withWaitingReasons(
      stageRows.map((s, i): StageWithAttempts => ({ ...s, needs: pipeline.stages[i]!.needs, attemptHistory: [] })),
    ),
  };
  // The answer shows the run as committed: its placed stages assigned, and it running.
  for (const p of placed.placements.filter((p) => p.runId === runId)) {
    Object.assign(
      run.stages.find((s) => s.id === p.stageId)!,
      {
        state: "assigned",
        attempts: p.attemptNumber,
        agentId: p.agentId,
        attemptHistory: [
          {
            number: p.attemptNumber,
            state: "assigned",
            agentId: p.agentId,
            agentName: p.agentName,
            assignedAt: p.assignedAt,
            startedAt: null,
            finishedAt: null,
            exitCode: null,
            reason: null,
          },
        ],
      },
    );
    run.state = "running";
  }
  run.lastEventSeq += placed.events.filter((e) => e.runId === runId).length;
  return { run, events, placed };
}
