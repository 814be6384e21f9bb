// Agent writes against an attempt. Every write names the lease; a write whose
// lease is not the attempt's live one raises StaleLeaseError (and is counted
// by the caller).
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./db";
import { withTx } from "./tx";
import { attempts, stages } from "./schema";
import { appendEvents, stageEvent, type RunEventRecord } from "./events";
import { endAttempt, refreshRunState, type AttemptRow, type EndedAttempt } from "./stage-flow";
import { InvalidError, StaleLeaseError } from "../errors";
import type { Outcome } from "../domain/states";

export interface OpenedAttempt {
  attempt: AttemptRow;
  stageName: string;
}

async function explainStale(db: Db, attemptId: string, leaseId: string, agentId?: string): Promise<StaleLeaseError> {
  const [row] = await db.select().from(attempts).where(eq(attempts.id, attemptId));
  if (!row) return new StaleLeaseError(attemptId, "no such attempt");
  if (row.leaseId !== leaseId) return new StaleLeaseError(attemptId, "lease was replaced");
  if (agentId && row.agentId !== agentId) return new StaleLeaseError(attemptId, "attempt belongs to another agent");
  return new StaleLeaseError(attemptId, `attempt already ended as ${row.state}`);
}

/** Check the lease of an attempt that an agent opens a stream for. */
export async function openAttempt(db: Db, attemptId: string, leaseId: string, agentId: string): Promise<OpenedAttempt> {
  const rows = await db.select({ attempt: attempts, stageName: stages.name }).from(attempts)
    .innerJoin(stages, eq(stages.id, attempts.stageId))
    .where(and(eq(attempts.id, attemptId), eq(attempts.leaseId, leaseId), eq(attempts.agentId, agentId),
      inArray(attempts.state, ["assigned", "running"])));
  const row = rows[0];
  if (!row) throw await explainStale(db, attemptId, leaseId, agentId);
  return row;
}

/** assigned -> running (idempotent for a replayed report). */
export async function markStarted(
  db: Db, opened: OpenedAttempt, now: Date, leaseTtlMs: number, timeoutMs: number | null,
): Promise<RunEventRecord[]> {
  const { attempt } = opened;
  return withTx(db, async (tx) => {
    const [row] = await tx.update(attempts)
      .set({
        state: "running", startedAt: now, leaseExpiresAt: new Date(now.getTime() + leaseTtlMs),
        deadlineAt: timeoutMs ? new Date(now.getTime() + timeoutMs) : null,
      })
      .where(and(eq(attempts.id, attempt.id), eq(attempts.leaseId, attempt.leaseId), eq(attempts.state, "assigned")))
      .returning();
    if (!row) {
      const [cur] = await tx.select({ state: attempts.state, leaseId: attempts.leaseId }).from(attempts).where(eq(attempts.id, attempt.id));
      if (cur?.state === "running" && cur.leaseId === attempt.leaseId) return [];
      throw new StaleLeaseError(attempt.id, `attempt is ${cur?.state ?? "gone"}`);
    }
    await tx.update(stages).set({ state: "running", startedAt: now }).where(and(eq(stages.id, attempt.stageId), eq(stages.attempts, attempt.number)));
    const events = await appendEvents(tx, attempt.runId, [stageEvent(attempt.stageId, attempt.id, {
      stageName: opened.stageName, state: "running", attempt: attempt.number, agentId: attempt.agentId, exitCode: null, reason: "",
    })], now);
    events.push(...(await refreshRunState(tx, attempt.runId, now)));
    return events;
  });
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
  db: Db, opened: OpenedAttempt, chunks: IncomingChunk[], now: Date,
): Promise<{ events: RunEventRecord[]; logSeq: number }> {
  const { attempt } = opened;
  return withTx(db, async (tx) => {
    const [cur] = await tx.select({ logSeq: attempts.logSeq, state: attempts.state, leaseId: attempts.leaseId })
      .from(attempts).where(eq(attempts.id, attempt.id)).for("update");
    if (!cur || cur.leaseId !== attempt.leaseId || !["assigned", "running"].includes(cur.state)) {
      throw new StaleLeaseError(attempt.id, cur ? `attempt already ended as ${cur.state}` : "no such attempt");
    }
    // Replays (seq already persisted, or repeated within this batch) are dropped; a gap is a protocol error.
    const bySeq = new Map<number, IncomingChunk>();
    for (const c of chunks) if (c.seq > cur.logSeq && !bySeq.has(c.seq)) bySeq.set(c.seq, c);
    const fresh = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    let expected = cur.logSeq + 1;
    for (const c of fresh) {
      if (c.seq !== expected) throw new InvalidError(`log chunk ${c.seq} of attempt ${attempt.id} arrived, expected ${expected}`);
      expected++;
    }
    if (fresh.length === 0) return { events: [], logSeq: cur.logSeq };
    const logSeq = fresh[fresh.length - 1]!.seq;
    await tx.update(attempts).set({ logSeq }).where(eq(attempts.id, attempt.id));
    const events = await appendEvents(tx, attempt.runId, fresh.map((c) => ({
      kind: "log" as const, stageId: attempt.stageId, attemptId: attempt.id, chunkSeq: c.seq, stream: c.stream, data: c.data,
      payload: { stageName: opened.stageName, attempt: attempt.number },
    })), now);
    return { events, logSeq };
  });
}

/** Extend the lease. Returns the attempt's state (the caller cancels if it is not active). */
export async function renewLease(db: Db, attemptId: string, leaseId: string, now: Date, leaseTtlMs: number): Promise<Date> {
  const expires = new Date(now.getTime() + leaseTtlMs);
  const [row] = await db.update(attempts).set({ leaseExpiresAt: expires })
    .where(and(eq(attempts.id, attemptId), eq(attempts.leaseId, leaseId), inArray(attempts.state, ["assigned", "running"])))
    .returning({ id: attempts.id });
  if (!row) throw await explainStale(db, attemptId, leaseId);
  return expires;
}

/** The agent reports the end of an attempt under its lease. */
export async function finishAttempt(
  db: Db, attemptId: string, leaseId: string, outcome: Outcome, exitCode: number | null, reason: string, now: Date,
): Promise<EndedAttempt> {
  const ended = await withTx(db, (tx) => endAttempt(tx, attemptId, outcome, { exitCode, reason, now, leaseId }));
  if (!ended) throw await explainStale(db, attemptId, leaseId);
  return ended;
}

/** Server-side ends: leases that ran out, and stages that outlived their timeout. */
export async function expireAttempts(db: Db, now: Date): Promise<EndedAttempt[]> {
  const expired = await db.select({ id: attempts.id, deadlineAt: attempts.deadlineAt, leaseExpiresAt: attempts.leaseExpiresAt })
    .from(attempts)
    .where(and(inArray(attempts.state, ["assigned", "running"]),
      sql`(${attempts.leaseExpiresAt} < ${now} OR ${attempts.deadlineAt} < ${now})`));
  const out: EndedAttempt[] = [];
  for (const row of expired) {
    const timedOut = row.deadlineAt !== null && row.deadlineAt < now;
    const outcome: Outcome = timedOut ? "timeout" : "lost";
    const reason = timedOut ? "stage exceeded its timeout" : "lease expired: agent stopped renewing";
    const ended = await withTx(db, (tx) => endAttempt(tx, row.id, outcome, { exitCode: null, reason, now }));
    if (ended) out.push(ended);
  }
  return out;
}

/** End every active attempt of agents declared lost. */
export async function loseAgentAttempts(db: Db, agentIds: string[], now: Date, reason = "agent lost: no heartbeat"): Promise<EndedAttempt[]> {
  if (agentIds.length === 0) return [];
  const active = await db.select({ id: attempts.id }).from(attempts)
    .where(and(inArray(attempts.agentId, agentIds), inArray(attempts.state, ["assigned", "running"])));
  const out: EndedAttempt[] = [];
  for (const a of active) {
    const ended = await withTx(db, (tx) => endAttempt(tx, a.id, "lost", { exitCode: null, reason, now }));
    if (ended) out.push(ended);
  }
  return out;
}

/** Assignments of an agent: not yet started ones (to run) and all live ones (to keep). */
export async function agentAttempts(db: Db, agentId: string) {
  return db.select({ attempt: attempts, stage: stages }).from(attempts)
    .innerJoin(stages, eq(stages.id, attempts.stageId))
    .where(and(eq(attempts.agentId, agentId), inArray(attempts.state, ["assigned", "running"])));
}

