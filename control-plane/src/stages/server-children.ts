// Children of server-run attempts: agent work a server kind spawns (`ctx.spawn`), e.g. one
// replica step per host of a rolling update. A child is an ordinary agent stage row named
// `PARENT/KEY` with `parent_stage_id` set, so the ordinary claim places it (capabilities,
// and `spec.pinAgent` when pinned), the lease machinery runs it (never two live copies), and
// its logs and events are the run's like any stage's. It has no edges (nothing depends on it)
// and does not count toward the run's state: its parent decides what its end means, and the
// run cannot end before the parent does. `server_children` makes a spawn idempotent by key and
// carries the end to the parent: the child's end transaction sets `ended_at` (markChildEnded),
// and the runner delivers it to `onChildEnded` exactly once (server-child-delivery.ts).
// A pinned child whose agent is not online (lost, draining, offline, revoked, unknown) or cannot
// run its kind never waits forever: it ends `failed` with that reason, at the spawn or, when its
// agent goes away while it is queued, on the runner's next beat (failStrandedChildren).
import { sql } from "drizzle-orm";
import { substituteDeep, type BuiltinVariable, type KindSpec } from "@dockyard/pipeline";
import { parseJson, queryRows, type Tx } from "../store/db";
import { appendEvents, stageEvent, type NewRunEvent, type RunEventRecord } from "../store/events";
import { endAttempt, type EndedAttempt } from "../store/stage-flow";
import type { StageSpecRow } from "../store/schema";
import { ACTIVE_ATTEMPTS_SQL } from "../store/state-sql";
import { markChildEnded } from "../store/child-ends";
import { newId } from "../ids";
import { InvalidError } from "../errors";
import { stageKind } from "./index";
import { NO_RETRY, type ChildSpawn, type ServerStage, type SpawnedChild } from "./kind";

const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface SpawnResult {
  child: SpawnedChild;
  events: RunEventRecord[];
  /** A new child waits in the queue: the scheduler should look. */
  queued: boolean;
}

/** Create the child of `parent` named by `req.key`, or answer the one that key already names. */
export async function spawnChild(tx: Tx, parent: ServerStage, req: ChildSpawn, now: Date): Promise<SpawnResult> {
  if (!KEY.test(req.key))
    throw new InvalidError(
      `child key '${req.key.slice(0, 120)}' must be 1-100 of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
    );
  const [known] = await queryRows<{ stage_id: string; name: string }>(
    tx,
    sql`SELECT c.stage_id, s.name FROM server_children c JOIN stages s ON s.id = c.stage_id
      WHERE c.parent_attempt_id = ${parent.attemptId} AND c.key = ${req.key}`,
  );
  if (known)
    return {
      child: { key: req.key, stageId: known.stage_id, stageName: known.name, created: false },
      events: [],
      queued: false,
    };
  const kind = stageKind(req.spec.type);
  if (kind.runsOn !== "agent") throw new InvalidError(`a child runs on an agent: '${req.spec.type}' is a server kind`);
  const [p] = await queryRows<{
    position: number;
    spec: StageSpecRow | string;
    number: number;
    run_id: string;
    commit: string;
  }>(
    tx,
    sql`SELECT s.position, s.spec, a.number, r.id AS run_id, r.commit FROM stages s JOIN attempts a ON a.id = ${parent.attemptId} JOIN runs r ON r.id = s.run_id
      WHERE s.id = ${parent.stageId}`,
  );
  if (!p) throw new Error(`parent stage ${parent.stageId} vanished`);
  const parentSpec = parseJson(p.spec);
  // A retried parent's children are its own: the name says which attempt spawned them.
  const name = `${parent.stageName}${p.number > 1 ? `#${p.number}` : ""}/${req.key}`;
  const builtins: Record<BuiltinVariable, string> = {
    DOCKYARD_RUN_ID: parent.runId,
    DOCKYARD_RUN_NUMBER: String(parent.run.number),
    DOCKYARD_PIPELINE: parent.run.name,
    DOCKYARD_COMMIT: p.commit,
    DOCKYARD_STAGE: name,
  };
  const resolve = (ref: { kind: string; name?: string }) =>
    ref.kind === "builtin" ? builtins[ref.name as BuiltinVariable] : undefined;
  const spec = substituteDeep(req.spec, resolve, true) as KindSpec;
  const requires = kind.requires(spec as never);
  const affinity = kind.affinity?.key(spec as never) ?? null;
  const row: StageSpecRow = {
    type: spec.type,
    kind: spec,
    env: substituteDeep(req.env ?? {}, resolve, true),
    secrets: req.secrets ?? [],
    agent: {},
    requires,
    refs: [],
    source: parentSpec.source ?? { kind: "upload" },
    registry: parentSpec.registry ?? null,
    sameAgentAs: null,
    affinity: affinity === null ? null : `${spec.type}:${affinity}`,
    run: { name: parent.run.name, number: parent.run.number },
    pinAgent: req.agentId ?? null,
  };
  const refused = req.agentId ? await pinRefusal(tx, req.agentId, requires) : null;
  const stageId = newId();
  const retry = req.retry ?? NO_RETRY;
  await tx.execute(sql`
    WITH s AS (
      INSERT INTO stages (id, run_id, name, position, state, type, runs_on, spec, timeout_ms, retry_count, retry_on, queued_at, reason, finished_at, parent_stage_id)
      VALUES (${stageId}, ${parent.runId}, ${name}, ${p.position}, ${refused ? "failed" : "queued"}, ${spec.type}, 'agent', ${JSON.stringify(row)}::jsonb,
        ${req.timeoutMs ?? null}::int, ${retry.count}, ${JSON.stringify(retry.on)}::jsonb, ${now}, ${refused}, ${refused ? now : null}::timestamptz, ${parent.stageId})
      RETURNING id)
    INSERT INTO server_children (parent_attempt_id, key, stage_id, run_id, created_at, ended_at)
    SELECT ${parent.attemptId}, ${req.key}, id, ${parent.runId}, ${now}, ${refused ? now : null}::timestamptz FROM s`);
  const event = childEvent(stageId, name, refused ? "failed" : "queued", refused ?? "");
  const events = await appendEvents(tx, parent.runId, [event], now);
  return { child: { key: req.key, stageId, stageName: name, created: true }, events, queued: !refused };
}

/** Why `agentId` cannot take a child needing `requires` now; null when it can. */
async function pinRefusal(tx: Tx, agentId: string, requires: string[]): Promise<string | null> {
  const [a] = await queryRows<{ name: string; state: string; capabilities: string[] | string }>(
    tx,
    sql`SELECT name, state, capabilities FROM agents WHERE id = ${agentId}`,
  );
  if (!a) return `pinned agent ${agentId} does not exist`;
  if (a.state !== "online") return `pinned agent '${a.name}' is ${a.state}`;
  const caps = parseJson(a.capabilities);
  const missing = requires.filter((c) => !caps.includes(c));
  return missing.length > 0
    ? `pinned agent '${a.name}' lacks capability ${missing.map((c) => `'${c}'`).join(", ")}`
    : null;
}

function childEvent(stageId: string, name: string, state: string, reason: string): NewRunEvent {
  return stageEvent(stageId, null, { stageName: name, state, attempt: 0, agentId: "", exitCode: null, reason });
}

/**
 * End a queued child without an attempt (its pinned agent went away, or its parent ended),
 * under the stage's lock; null when a claim holds it or it moved on (the caller looks again later).
 */
async function endQueuedChild(
  tx: Tx,
  stageId: string,
  state: "failed" | "canceled",
  reason: string,
  now: Date,
): Promise<RunEventRecord[] | null> {
  const [s] = await queryRows<{ id: string; name: string; run_id: string }>(
    tx,
    sql`UPDATE stages SET state = ${state}, reason = ${reason}, finished_at = ${now}
      WHERE id = (SELECT id FROM stages WHERE id = ${stageId} AND state IN ('queued', 'pending') FOR UPDATE SKIP LOCKED)
      RETURNING id, name, run_id`,
  );
  if (!s) return null;
  await markChildEnded(tx, [s.id], now);
  return appendEvents(tx, s.run_id, [childEvent(s.id, s.name, state, reason)], now);
}

/**
 * The parent attempt is ending (finish, timeout): end its live children first, so no child
 * outlives it. Called with the parent locked, before its end (lock order: parent attempt,
 * child attempts, child stages, run). Ended attempts are returned so their agents are told.
 */
export async function endLiveChildren(
  tx: Tx,
  parentAttemptId: string,
  now: Date,
  reason: string,
): Promise<{ ended: EndedAttempt[]; events: RunEventRecord[] }> {
  const live = await queryRows<{ stage_id: string; attempt_id: string | null }>(
    tx,
    sql`SELECT c.stage_id, (SELECT a.id FROM attempts a WHERE a.stage_id = c.stage_id AND a.state IN ${ACTIVE_ATTEMPTS_SQL} ORDER BY a.number DESC LIMIT 1) AS attempt_id
      FROM server_children c WHERE c.parent_attempt_id = ${parentAttemptId} AND c.ended_at IS NULL`,
  );
  const out = { ended: [] as EndedAttempt[], events: [] as RunEventRecord[] };
  for (const c of live) {
    if (c.attempt_id) {
      const e = await endAttempt(tx, c.attempt_id, "canceled", { exitCode: null, reason, now });
      if (e) out.ended.push(e);
      continue;
    }
    // Queued (or between a claim's commit and our read): a placement in flight holds the row; it is
    // then an attempt, ended the next time around. Waiting here would invert the lock order.
    out.events.push(...((await endQueuedChild(tx, c.stage_id, "canceled", reason, now)) ?? []));
  }
  return out;
}

/** Fail queued children pinned to an agent that is no longer online (the runner's beat). */
export async function failStrandedChildren(tx: Tx, now: Date): Promise<RunEventRecord[]> {
  const stranded = await queryRows<{ id: string; pin: string; name: string | null; state: string | null }>(
    tx,
    sql`${STRANDED_SQL} LIMIT 50`,
  );
  const events: RunEventRecord[] = [];
  for (const s of stranded) {
    const why = s.state === null ? "no longer exists" : `is ${s.state}`;
    events.push(
      ...((await endQueuedChild(
        tx,
        s.id,
        "failed",
        `pinned agent ${s.name === null ? s.pin : `'${s.name}'`} ${why}`,
        now,
      )) ?? []),
    );
  }
  return events;
}

/** Queued children whose pinned agent is not online (uses the partial index on queued stages). */
export const STRANDED_SQL = sql`SELECT s.id, s.spec->>'pinAgent' AS pin, a.name, a.state FROM stages s LEFT JOIN agents a ON a.id = s.spec->>'pinAgent'
  WHERE s.state = 'queued' AND s.parent_stage_id IS NOT NULL AND s.spec->>'pinAgent' IS NOT NULL AND (a.id IS NULL OR a.state <> 'online')`;
