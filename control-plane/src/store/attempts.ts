// Agent writes against an attempt. Every write names the lease; a write whose
// lease is not the attempt's live one raises StaleLeaseError (and is counted
// by the caller), or AttemptCanceledError when the attempt was canceled under
// that very lease (answered, not counted: see explainStale).
import { and, eq, inArray, sql, type SQL } from "drizzle-orm";
import { queryRows, type Db, type Tx } from "./db";
import { withTx } from "./tx";
import { agents, attempts, stages } from "./schema";
import { appendEvents, eventsInsert, numbered, stageEvent, type NewRunEvent, type RunEventRecord } from "./events";
import { endAttempt, type AttemptRow, type EndedAttempt } from "./stage-flow";
import { AttemptCanceledError, DockyardError, InvalidError, StaleLeaseError } from "../errors";
import type { Outcome } from "../domain/states";
import { ACTIVE_ATTEMPTS_SQL, ACTIVE_ATTEMPTS } from "./state-sql";
import type { StageOutputsRow } from "./schema";

export interface OpenedAttempt {
  attempt: AttemptRow;
  stageName: string;
  timeoutMs: number | null;
  agentName: string;
}

/**
 * Why a write under this lease was refused. Two different answers: a StaleLeaseError
 * (no such attempt, the lease was replaced, another agent's attempt, or it ended as
 * something other than canceled: the write is refused and counted), or an
 * AttemptCanceledError (the attempt was canceled while this lease held it: the agent's
 * late reports are expected, answered and not counted).
 */
export async function explainStale(
  db: Db,
  attemptId: string,
  leaseId: string,
  agentId?: string,
): Promise<StaleLeaseError | AttemptCanceledError> {
  const [row] = await db.select().from(attempts).where(eq(attempts.id, attemptId));
  if (!row) return new StaleLeaseError(attemptId, "no such attempt");
  if (row.leaseId !== leaseId) return new StaleLeaseError(attemptId, "lease was replaced");
  if (agentId && row.agentId !== agentId) return new StaleLeaseError(attemptId, "attempt belongs to another agent");
  return endedError(attemptId, row);
}

/** The error for a write to an attempt that ended (with the lease the write carried). */
function endedError(
  attemptId: string,
  row: { state: string; reason: string | null; logSeq: number },
): StaleLeaseError | AttemptCanceledError {
  if (row.state === "canceled") return new AttemptCanceledError(attemptId, row.reason || "canceled", row.logSeq);
  return new StaleLeaseError(attemptId, `attempt already ended as ${row.state}`);
}

/** Check the lease of an attempt that an agent opens a stream for. */
export async function openAttempt(db: Db, attemptId: string, leaseId: string, agentId: string): Promise<OpenedAttempt> {
  const rows = await db
    .select({ attempt: attempts, stageName: stages.name, timeoutMs: stages.timeoutMs, agentName: agents.name })
    .from(attempts)
    .innerJoin(agents, eq(agents.id, attempts.agentId))
    .innerJoin(stages, eq(stages.id, attempts.stageId))
    .where(
      and(
        eq(attempts.id, attemptId),
        eq(attempts.leaseId, leaseId),
        eq(attempts.agentId, agentId),
        inArray(attempts.state, ACTIVE_ATTEMPTS),
      ),
    );
  const row = rows[0];
  if (!row) throw await explainStale(db, attemptId, leaseId, agentId);
  return row;
}

/**
 * assigned -> running for the attempt and its stage in one statement
 * (idempotent for a replayed report), inside the caller's transaction; the
 * path for replays and refused writes.
 * Returns the events to append (the caller appends them with any log chunks).
 */
export async function markStartedTx(
  tx: Tx,
  opened: OpenedAttempt,
  now: Date,
  leaseTtlMs: number,
): Promise<NewRunEvent[]> {
  const { attempt } = opened;
  const [row] = await queryRows<{ started: number }>(
    tx,
    sql`
    ${attemptWrite(opened, now, { start: true, leaseTtlMs })}
    SELECT (SELECT count(*) FROM a)::int AS started`,
  );
  if (!row?.started) {
    const [cur] = await tx
      .select({ state: attempts.state, leaseId: attempts.leaseId, reason: attempts.reason, logSeq: attempts.logSeq })
      .from(attempts)
      .where(eq(attempts.id, attempt.id));
    if (cur?.state === "running" && cur.leaseId === attempt.leaseId) return [];
    if (cur && cur.leaseId === attempt.leaseId && cur.state !== "assigned") throw endedError(attempt.id, cur);
    throw new StaleLeaseError(attempt.id, `attempt is ${cur?.state ?? "gone"}`);
  }
  attempt.state = "running";
  return [runningEvent(opened)];
}

export interface IncomingChunk {
  seq: number;
  data: Buffer;
  stream: number;
}

/**
 * Persist log chunks in order. Chunks at or below the persisted seq are
 * replays and are dropped; a gap is a protocol error. Returns the events
 * written and the new persisted seq.
 */
export async function appendLogs(
  db: Db,
  opened: OpenedAttempt,
  chunks: IncomingChunk[],
  now: Date,
  opts: { start?: boolean; leaseTtlMs?: number } = {},
): Promise<{ events: RunEventRecord[]; logSeq: number }> {
  const fresh = freshChunks(opened.attempt, chunks);
  if (!opts.start && fresh.length === 0) return { events: [], logSeq: opened.attempt.logSeq };
  // The usual case is one autocommitted statement; the transaction below handles the rest
  // (replays, and explaining a refused write).
  const fast = await writeInOneStatement(db, opened, fresh, now, opts.start ?? false, opts.leaseTtlMs ?? 0);
  return fast ?? appendLogsTx(db, opened, fresh, now, opts);
}

/** Drop replays (seq already persisted, or repeated in this batch); a gap is a protocol error. */
function freshChunks(attempt: AttemptRow, chunks: IncomingChunk[]): IncomingChunk[] {
  const known = attempt.logSeq;
  const bySeq = new Map<number, IncomingChunk>();
  for (const c of chunks) if (c.seq > known && !bySeq.has(c.seq)) bySeq.set(c.seq, c);
  const fresh = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  let expected = known + 1;
  for (const c of fresh) {
    if (c.seq !== expected)
      throw new InvalidError(`log chunk ${c.seq} of attempt ${attempt.id} arrived, expected ${expected}`);
    expected++;
  }
  return fresh;
}

function logEvents(opened: OpenedAttempt, fresh: IncomingChunk[]): NewRunEvent[] {
  const { attempt } = opened;
  return fresh.map((c) => ({
    kind: "log" as const,
    stageId: attempt.stageId,
    attemptId: attempt.id,
    chunkSeq: c.seq,
    stream: c.stream,
    data: c.data,
    payload: { stageName: opened.stageName, attempt: attempt.number },
  }));
}

function runningEvent(opened: OpenedAttempt): NewRunEvent {
  const { attempt } = opened;
  return stageEvent(attempt.stageId, attempt.id, {
    stageName: opened.stageName,
    state: "running",
    attempt: attempt.number,
    agentId: attempt.agentId,
    agentName: opened.agentName,
    exitCode: null,
    reason: "",
  });
}

/**
 * Start and/or log in one statement: the attempt update (guarded by lease,
 * state and the persisted seq), the stage update and the event insert. Null
 * when the guard did not match (the caller takes the transaction path).
 */
async function writeInOneStatement(
  db: Db,
  opened: OpenedAttempt,
  fresh: IncomingChunk[],
  now: Date,
  start: boolean,
  leaseTtlMs: number,
): Promise<{ events: RunEventRecord[]; logSeq: number } | null> {
  const { attempt } = opened;
  const logSeq = fresh.length > 0 ? fresh[fresh.length - 1]!.seq : attempt.logSeq;
  const events = [...(start ? [runningEvent(opened)] : []), ...logEvents(opened, fresh)];
  const rows = await queryRows<{ seq: string | number }>(
    db,
    sql`
    ${attemptWrite(opened, now, { start, leaseTtlMs, logSeq: fresh.length > 0 ? logSeq : undefined })}
    ${eventsInsert(attempt.runId, events, now, "a")}`,
  );
  if (rows.length !== events.length) return null;
  if (start) attempt.state = "running";
  return { events: numbered(attempt.runId, events, rows, now), logSeq };
}

/**
 * The CTE `a`: the attempt's update, guarded by its lease, its state and the
 * log seq we know is persisted; when starting, also `s`: its stage's update.
 * Shared by the one-statement path and the transaction path.
 */
function attemptWrite(
  opened: OpenedAttempt,
  now: Date,
  o: { start: boolean; leaseTtlMs: number; logSeq?: number },
): SQL {
  const { attempt } = opened;
  const sets: SQL[] = [];
  if (o.start) {
    const deadline = opened.timeoutMs ? new Date(now.getTime() + opened.timeoutMs) : null;
    sets.push(
      sql`state = 'running'`,
      sql`started_at = ${now}::timestamptz`,
      sql`lease_expires_at = ${new Date(now.getTime() + o.leaseTtlMs)}::timestamptz`,
      sql`deadline_at = ${deadline}::timestamptz`,
    );
  }
  if (o.logSeq !== undefined) sets.push(sql`log_seq = ${o.logSeq}`);
  return sql`WITH a AS (
      UPDATE attempts SET ${sql.join(sets, sql`, `)}
      WHERE id = ${attempt.id} AND lease_id = ${attempt.leaseId} AND log_seq = ${attempt.logSeq}
        AND ${o.start ? sql`state = 'assigned'` : sql`state IN ${ACTIVE_ATTEMPTS_SQL}`}
      RETURNING stage_id, number)
    ${
      o.start
        ? sql`, s AS (
      UPDATE stages SET state = 'running', started_at = ${now}::timestamptz
      FROM a WHERE stages.id = a.stage_id AND stages.attempts = a.number RETURNING stages.id)`
        : sql``
    }`;
}

async function appendLogsTx(
  db: Db,
  opened: OpenedAttempt,
  fresh: IncomingChunk[],
  now: Date,
  opts: { start?: boolean; leaseTtlMs?: number },
): Promise<{ events: RunEventRecord[]; logSeq: number }> {
  const { attempt } = opened;
  return withTx(db, async (tx) => {
    // A `started` report that arrived with the first chunks is written in the same transaction.
    const pending = opts.start ? await markStartedTx(tx, opened, now, opts.leaseTtlMs ?? 0) : [];
    const known = attempt.logSeq;
    let logSeq = known;
    if (fresh.length > 0) {
      logSeq = fresh[fresh.length - 1]!.seq;
      const moved = await tx
        .update(attempts)
        .set({ logSeq })
        .where(
          and(
            eq(attempts.id, attempt.id),
            eq(attempts.leaseId, attempt.leaseId),
            inArray(attempts.state, ACTIVE_ATTEMPTS),
            eq(attempts.logSeq, known),
          ),
        )
        .returning({ id: attempts.id });
      if (moved.length === 0) {
        const [cur] = await tx
          .select({
            logSeq: attempts.logSeq,
            state: attempts.state,
            reason: attempts.reason,
            leaseId: attempts.leaseId,
          })
          .from(attempts)
          .where(eq(attempts.id, attempt.id));
        if (cur && ACTIVE_ATTEMPTS.includes(cur.state)) {
          // Another session of this attempt wrote meanwhile (an abandoned stream the server still
          // reads): not the agent's error, it reopens and resends (see AttemptSession.fail).
          throw new DockyardError(
            "unavailable",
            `attempt ${attempt.id} has log seq ${cur.logSeq} persisted, not ${known}: reopen the stream`,
          );
        }
        if (!cur) throw new StaleLeaseError(attempt.id, "no such attempt");
        if (cur.leaseId !== attempt.leaseId) throw new StaleLeaseError(attempt.id, "lease was replaced");
        throw endedError(attempt.id, cur);
      }
      pending.push(...logEvents(opened, fresh));
    }
    const events = await appendEvents(tx, attempt.runId, pending, now);
    return { events, logSeq };
  });
}

/** Extend the lease. Returns the attempt's state (the caller cancels if it is not active). */
export async function renewLease(
  db: Db,
  attemptId: string,
  leaseId: string,
  now: Date,
  leaseTtlMs: number,
): Promise<Date> {
  const expires = new Date(now.getTime() + leaseTtlMs);
  const [row] = await db
    .update(attempts)
    .set({ leaseExpiresAt: expires })
    .where(and(eq(attempts.id, attemptId), eq(attempts.leaseId, leaseId), inArray(attempts.state, ACTIVE_ATTEMPTS)))
    .returning({ id: attempts.id });
  if (!row) throw await explainStale(db, attemptId, leaseId);
  return expires;
}

/** The agent reports the end of an attempt under its lease. */
export async function finishAttempt(
  db: Db,
  attemptId: string,
  leaseId: string,
  outcome: Outcome,
  exitCode: number | null,
  reason: string,
  now: Date,
  outputs: StageOutputsRow | null = null,
): Promise<EndedAttempt> {
  const ended = await withTx(db, (tx) =>
    endAttempt(tx, attemptId, outcome, { exitCode, reason, now, leaseId, outputs }),
  );
  if (!ended) throw await explainStale(db, attemptId, leaseId);
  return ended;
}

/**
 * Server-side ends: leases that ran out, and stages that outlived their timeout (whose agent
 * may still run them: a retry waits per `retryMarginMs`, see endAttempt).
 */
export async function expireAttempts(db: Db, now: Date, retryMarginMs?: number): Promise<EndedAttempt[]> {
  const expired = await db
    .select({ id: attempts.id, deadlineAt: attempts.deadlineAt, leaseExpiresAt: attempts.leaseExpiresAt })
    .from(attempts)
    .where(
      and(
        inArray(attempts.state, ACTIVE_ATTEMPTS),
        sql`(${attempts.leaseExpiresAt} < ${now} OR ${attempts.deadlineAt} < ${now})`,
      ),
    );
  const out: EndedAttempt[] = [];
  for (const row of expired) {
    const timedOut = row.deadlineAt !== null && row.deadlineAt < now;
    const outcome: Outcome = timedOut ? "timeout" : "lost";
    const reason = timedOut ? "stage exceeded its timeout" : "lease expired: agent stopped renewing";
    const ended = await withTx(db, (tx) =>
      endAttempt(tx, row.id, outcome, { exitCode: null, reason, now, retryMarginMs }),
    );
    if (ended) out.push(ended);
  }
  return out;
}

/**
 * End the active attempts of agents declared lost (`leaseExpired`: only those whose lease ran
 * out too; the sweep's way, since an agent may still run a stage until its fence, before the
 * lease TTL; the rest end when their lease does).
 */
export async function loseAgentAttempts(
  db: Db,
  agentIds: string[],
  now: Date,
  reason = "agent lost: no heartbeat",
  opts: { leaseExpired?: boolean; retryMarginMs?: number } = {},
): Promise<EndedAttempt[]> {
  if (agentIds.length === 0) return [];
  const conditions = [inArray(attempts.agentId, agentIds), inArray(attempts.state, ACTIVE_ATTEMPTS)];
  if (opts.leaseExpired) conditions.push(sql`${attempts.leaseExpiresAt} < ${now}`);
  const active = await db
    .select({ id: attempts.id })
    .from(attempts)
    .where(and(...conditions));
  const out: EndedAttempt[] = [];
  for (const a of active) {
    const ended = await withTx(db, (tx) =>
      endAttempt(tx, a.id, "lost", { exitCode: null, reason, now, retryMarginMs: opts.retryMarginMs }),
    );
    if (ended) out.push(ended);
  }
  return out;
}

/** Assignments of an agent: not yet started ones (to run) and all live ones (to keep). */
export async function agentAttempts(db: Db, agentId: string) {
  return db
    .select({ attempt: attempts, stage: stages })
    .from(attempts)
    .innerJoin(stages, eq(stages.id, attempts.stageId))
    .where(and(eq(attempts.agentId, agentId), inArray(attempts.state, ACTIVE_ATTEMPTS)));
}

/** One attempt placed on `agentId` and not started yet, with its stage (GetAssignment); null otherwise. */
export async function agentAttempt(db: Db, agentId: string, attemptId: string) {
  const [row] = await db
    .select({ attempt: attempts, stage: stages })
    .from(attempts)
    .innerJoin(stages, eq(stages.id, attempts.stageId))
    .where(and(eq(attempts.id, attemptId), eq(attempts.agentId, agentId), eq(attempts.state, "assigned")));
  return row ?? null;
}
