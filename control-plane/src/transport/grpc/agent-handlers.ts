// AgentService handlers. The attempt stream is processed strictly in order;
// log chunks that queue up while a write is in flight are persisted together
// (group commit), and each persisted seq is acknowledged.
import type * as grpc from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import {
  create, AgentService, AttemptCommandSchema, PollAssignmentsResponseSchema, DrainResponseSchema, LeaveResponseSchema,
  type AttemptReport, type AttemptCommand, type ServiceHandlers,
} from "@dockyard/proto";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { authenticateAgent, leaveAgent, setDraining, type AgentRow } from "../../store/agents";
import type { PlacementCache } from "../../scheduler/placement-cache";
import { agentAttempts, appendLogs, loseAgentAttempts, finishAttempt, openAttempt, renewLease, type OpenedAttempt, type IncomingChunk } from "../../store/attempts";
import { toAssignment } from "../convert";
import { agentIdFrom, bearer } from "./auth";
import { toServiceError } from "./errors";
import { DockyardError, InvalidError, StaleLeaseError } from "../../errors";
import { isOutcome } from "../../domain/states";
import type { Scheduler } from "../../scheduler/scheduler";
import type { ServerMetrics } from "../../metrics";
import type { RunEventRecord } from "../../store/events";

type Handlers = ServiceHandlers<(typeof AgentService)["method"]>;

/** Largest log chunk an agent may send. */
export const MAX_LOG_CHUNK_BYTES = 64 * 1024;

export interface AgentHandlerDeps {
  db: Db;
  clock: Clock;
  scheduler: Scheduler;
  metrics: ServerMetrics;
  leaseTtlMs: number;
  /** Attempts this server just placed: their stream opens without a query. */
  placements?: PlacementCache;
  publish(events: RunEventRecord[]): void;
  log: Logger;
}

export function agentHandlers(deps: AgentHandlerDeps): Handlers {
  const { db, log } = deps;
  const sessions = new SessionCache(db);
  const authenticate = (md: grpc.Metadata): Promise<AgentRow> => sessions.authenticate(agentIdFrom(md), bearer(md));

  return {
    pollAssignments: (call, callback) => {
      (async () => {
        const agent = await authenticate(call.metadata);
        const rows = await agentAttempts(db, agent.id);
        return create(PollAssignmentsResponseSchema, {
          assignments: rows.filter((r) => r.attempt.state === "assigned").map((r) => toAssignment({
            attemptId: r.attempt.id, leaseId: r.attempt.leaseId, runId: r.attempt.runId, stageId: r.stage.id,
            stageName: r.stage.name, attemptNumber: r.attempt.number, agentId: agent.id, sessionKey: "", spec: r.stage.spec,
            timeoutMs: r.stage.timeoutMs, queuedAt: r.attempt.assignedAt,
          }, deps.leaseTtlMs)),
          ownedAttemptIds: rows.map((r) => r.attempt.id),
        });
      })().then((res) => callback(null, res), (err: unknown) => callback(toServiceError(err, log)));
    },
    setDraining: (call, callback) => {
      (async () => {
        const agent = await authenticate(call.metadata);
        await setDraining(db, agent.id, call.request.draining);
        return create(DrainResponseSchema, {});
      })().then((res) => callback(null, res), (err: unknown) => callback(toServiceError(err, log)));
    },
    leave: (call, callback) => {
      (async () => {
        const agent = await authenticate(call.metadata);
        await leaveAgent(db, agent.id);
        const ended = await loseAgentAttempts(db, [agent.id], deps.clock.now(), "agent left");
        deps.scheduler.afterEnded(ended, "server");
        log.info({ agentId: agent.id, ended: ended.length }, "agent left");
        return create(LeaveResponseSchema, {});
      })().then((res) => callback(null, res), (err: unknown) => callback(toServiceError(err, log)));
    },
    attemptStream: (call) => new AttemptSession(call, deps, authenticate).start(),
  };
}

/**
 * Agent sessions checked against Postgres at most once per second per
 * session: every attempt stream authenticates, and a busy agent opens many.
 * A replaced or revoked session therefore works for up to SESSION_CACHE_MS.
 */
const SESSION_CACHE_MS = 1000;

class SessionCache {
  private cache = new Map<string, { agent: AgentRow; until: number }>();

  constructor(private readonly db: Db) {}

  async authenticate(agentId: string, token: string): Promise<AgentRow> {
    const key = `${agentId}:${token}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.agent;
    const agent = await authenticateAgent(this.db, agentId, token);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(key, { agent, until: Date.now() + SESSION_CACHE_MS });
    return agent;
  }
}

/** One agent's stream for one attempt. */
class AttemptSession {
  private queue: AttemptReport[] = [];
  private busy = false;
  private opened: OpenedAttempt | null = null;
  private agent: AgentRow | null = null;
  private closed = false;
  /** The kind of report being handled (labels the stale-write counter). */
  private handling = "unknown";

  constructor(
    private readonly call: grpc.ServerDuplexStream<AttemptReport, AttemptCommand>,
    private readonly deps: AgentHandlerDeps,
    private readonly authenticate: (md: grpc.Metadata) => Promise<AgentRow>,
  ) {}

  start(): void {
    this.authenticate(this.call.metadata).then((agent) => {
      this.agent = agent;
      void this.drain();
    }, (err: unknown) => this.fail(err));
    this.call.on("data", (report: AttemptReport) => {
      this.queue.push(report);
      void this.drain();
    });
    this.call.on("end", () => {
      this.closed = true;
      this.call.end();
    });
    this.call.on("error", () => {
      this.closed = true;
    });
  }

  private send(body: NonNullable<MessageInitShape<typeof AttemptCommandSchema>["body"]>): void {
    if (!this.closed) this.call.write(create(AttemptCommandSchema, { body }));
  }

  private fail(err: unknown): void {
    if (err instanceof StaleLeaseError) {
      this.deps.metrics.staleWrites.inc({ kind: this.handling });
      this.send({ case: "rejected", value: { code: err.code, message: err.message } });
      this.call.end();
    } else if (err instanceof DockyardError && !this.closed) {
      this.send({ case: "rejected", value: { code: err.code, message: err.message } });
      this.call.end();
    } else if (!this.closed) {
      this.call.destroy(toServiceError(err, this.deps.log) as Error);
    }
    this.closed = true;
    this.queue = [];
  }

  private async drain(): Promise<void> {
    if (this.busy || !this.agent) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) await this.handleNext();
    } catch (err) {
      this.fail(err);
    } finally {
      this.busy = false;
    }
  }

  private async handleNext(): Promise<void> {
    const { db, clock, leaseTtlMs } = this.deps;
    const report = this.queue[0]!;
    this.handling = report.body.case ?? "unknown";
    if (!this.opened) {
      if (report.body.case !== "open") throw new InvalidError("the first report on an attempt stream must be 'open'");
      this.opened = this.deps.placements?.take(report.attemptId, report.leaseId, this.agent!.id)
        ?? await openAttempt(db, report.attemptId, report.leaseId, this.agent!.id);
      this.queue.shift();
      this.send({ case: "ack", value: { logSeq: BigInt(this.opened.attempt.logSeq), started: this.opened.attempt.state === "running" } });
      return;
    }
    const { attempt } = this.opened;
    if (report.attemptId !== attempt.id || report.leaseId !== attempt.leaseId) {
      throw new StaleLeaseError(report.attemptId, "report names another attempt or lease than the stream's");
    }
    switch (report.body.case) {
      case "started":
      case "log": {
        // `started` and the chunks right behind it are written in one transaction (the first
        // log byte should not wait for a separate commit); later chunks group-commit the same way.
        const start = report.body.case === "started";
        // The agent sends `started` together with the first output when it comes quickly; the
        // chunk may reach us a tick later, and one statement for both saves a commit.
        if (start && this.queue.length === 1) await new Promise((r) => setImmediate(r));
        if (start) this.queue.shift();
        const chunks: IncomingChunk[] = [];
        while (this.queue[0]?.body.case === "log" && chunks.length < 256) {
          const c = this.queue.shift()!.body.value as { seq: bigint; data: Uint8Array; stream: number };
          if (c.data.length > MAX_LOG_CHUNK_BYTES) throw new InvalidError(`log chunk of ${c.data.length} bytes exceeds ${MAX_LOG_CHUNK_BYTES}`);
          chunks.push({ seq: Number(c.seq), data: Buffer.from(c.data), stream: c.stream });
        }
        const { events, logSeq } = await appendLogs(db, this.opened, chunks, clock.now(), { start, leaseTtlMs });
        attempt.logSeq = logSeq;
        if (chunks.length > 0) this.deps.metrics.logBytes.inc(chunks.reduce((n, c) => n + c.data.length, 0));
        this.deps.publish(events);
        this.send({ case: "ack", value: { logSeq: BigInt(logSeq), started: start } });
        return;
      }
      case "renew": {
        this.queue.shift();
        const expires = await renewLease(db, attempt.id, attempt.leaseId, clock.now(), leaseTtlMs);
        this.send({ case: "ack", value: { logSeq: BigInt(attempt.logSeq), leaseExpiresAtMs: BigInt(expires.getTime()) } });
        return;
      }
      case "finished": {
        this.queue.shift();
        const f = report.body.value;
        if (!isOutcome(f.outcome)) throw new InvalidError(`unknown outcome '${f.outcome.slice(0, 32)}'`);
        if (Number(f.lastLogSeq) !== attempt.logSeq) {
          throw new InvalidError(`finished after log seq ${f.lastLogSeq} but ${attempt.logSeq} is persisted; send the missing chunks first`);
        }
        const ended = await finishAttempt(db, attempt.id, attempt.leaseId, f.outcome, f.exitCode, f.message.slice(0, 500), clock.now());
        this.deps.scheduler.afterEnded([ended], "agent");
        this.send({ case: "ack", value: { finished: true, logSeq: BigInt(attempt.logSeq) } });
        return;
      }
      case "open":
        this.queue.shift();
        return;
      default:
        throw new InvalidError("empty attempt report");
    }
  }
}
