// AgentService handlers: polling, draining and leaving here; the attempt
// stream in attempt-stream.ts.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  create, AgentService, PollAssignmentsResponseSchema, DrainResponseSchema, LeaveResponseSchema, type ServiceHandlers,
} from "@dockyard/proto";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { authenticateAgent, leaveAgent, setDraining, type AgentRow } from "../../store/agents";
import type { PlacementCache } from "../../scheduler/placement-cache";
import { agentAttempts, loseAgentAttempts } from "../../store/attempts";
import { toAssignment } from "../convert";
import { agentIdFrom, bearer } from "./auth";
import { toServiceError } from "./errors";
import { AgentStream } from "./attempt-stream";
import { FinishQueue } from "../../store/finish-queue";
import type { Scheduler } from "../../scheduler/scheduler";
import type { ServerMetrics } from "../../metrics";
import type { RunEventRecord } from "../../store/events";

type Handlers = ServiceHandlers<(typeof AgentService)["method"]>;

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
  const finishes = new FinishQueue(db, deps.clock, (n) => deps.metrics.finishBatch.observe(n));
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
    attemptStream: (call) => new AgentStream(call, deps, authenticate, finishes).start(),
  };
}

/**
 * Agent sessions checked against Postgres at most once per second per
 * session: every poll and every attempt that opens on the stream re-checks it.
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
