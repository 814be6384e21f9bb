// AgentService handlers: registration, heartbeats, assignments, draining and
// leaving here; the attempt stream in attempt-stream.ts.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  create, AgentService, PollAssignmentsResponseSchema, DrainResponseSchema, LeaveResponseSchema, HeartbeatResponseSchema,
  GetAssignmentResponseSchema, SecretValueSchema, type ServiceHandlers, type Assignment,
} from "@dockyard/proto";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { leaveAgent, recordHeartbeat, setDraining } from "../../store/agents";
import type { PlacementCache } from "../../scheduler/placement-cache";
import { agentAttempt, agentAttempts, finishAttempt, loseAgentAttempts } from "../../store/attempts";
import type { SecretRefRow, StageSpecRow } from "../../store/schema";
import { toAssignment } from "../convert";
import { toServiceError } from "./errors";
import { AgentStream } from "./attempt-stream";
import { AgentAuth } from "./agent-auth";
import type { AgentStreams } from "./agent-streams";
import { handleRegistration, type RegistrationDeps } from "./registration";
import { FinishQueue } from "../../store/finish-queue";
import type { Scheduler } from "../../scheduler/scheduler";
import type { ServerMetrics } from "../../metrics";
import type { RunEventRecord } from "../../store/events";
import { DockyardError, NotFoundError } from "../../errors";

type Handlers = ServiceHandlers<(typeof AgentService)["method"]>;

export interface AgentHandlerDeps {
  db: Db;
  /** The pool kept for liveness (heartbeats must not queue behind bulk work). */
  liveDb?: Db;
  clock: Clock;
  scheduler: Scheduler;
  metrics: ServerMetrics;
  leaseTtlMs: number;
  /** Attempts this server just placed: their stream opens without a query. */
  placements?: PlacementCache;
  publish(events: RunEventRecord[]): void;
  /** Decrypted values of a stage's secret references (only for the agent the attempt is placed on). */
  secretValues(refs: SecretRefRow[]): Promise<{ env: string; value: Buffer; asFile: boolean }[]>;
  registration: Omit<RegistrationDeps, "db" | "clock" | "log">;
  /** Streams open on this replica, for pushing placements (see agent-streams.ts). */
  streams?: AgentStreams;
  log: Logger;
}

/** A unary handler: run, answer, map errors. */
function unary<Req, Res>(log: Logger, fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call).then((res) => callback(null, res), (err: unknown) => callback(toServiceError(err, log)));
  };
}

export function agentHandlers(deps: AgentHandlerDeps): Handlers {
  const { db, log } = deps;
  const auth = new AgentAuth(db, () => deps.clock.now().getTime());
  const finishes = new FinishQueue(db, deps.clock, (n) => deps.metrics.finishBatch.observe(n));
  const authenticate = (md: grpc.Metadata) => auth.authenticate(md);
  const register = handleRegistration({ ...deps.registration, db, clock: deps.clock, log });

  /** The assignment with its secrets; a stage whose secret vanished since the submit ends as errored. */
  const withSecrets = async (base: Assignment, spec: StageSpecRow): Promise<Assignment> => {
    if (!spec.secrets?.length) return base;
    try {
      const values = await deps.secretValues(spec.secrets);
      base.spec!.secrets = values.map((v) => create(SecretValueSchema, { env: v.env, value: v.value, asFile: v.asFile }));
      return base;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const ended = await finishAttempt(db, base.attemptId, base.leaseId, "errored", null, err.message, deps.clock.now()).catch(() => null);
      if (ended) deps.scheduler.afterEnded([ended], "agent");
      throw new DockyardError("stale_lease", `attempt ${base.attemptId} cannot run: ${err.message}`);
    }
  };

  return {
    register: unary(log, (call) => register(call.request)),
    heartbeat: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const ok = await recordHeartbeat(deps.liveDb ?? db, agent.id, agent.sessionId, call.request.draining, deps.clock.now());
      if (!ok) throw new DockyardError("stale_lease", `agent ${agent.id} was declared ${agent.state === "online" ? "lost" : agent.state}: register again`);
      return create(HeartbeatResponseSchema, {});
    }),
    getAssignment: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const attemptId = call.request.attemptId;
      if (!/^[0-9a-f-]{36}$/.test(attemptId)) throw new DockyardError("invalid", "attempt_id must be a UUID");
      const placed = deps.placements?.peek(attemptId, agent.id);
      if (placed) return create(GetAssignmentResponseSchema, { assignment: await withSecrets(toAssignment(placed, deps.leaseTtlMs), placed.spec) });
      const row = await agentAttempt(db, agent.id, attemptId);
      if (!row) throw new DockyardError("stale_lease", `attempt ${attemptId} is not assigned to agent ${agent.id} (any more)`);
      const assignment = toAssignment({
        attemptId: row.attempt.id, leaseId: row.attempt.leaseId, runId: row.attempt.runId, stageId: row.stage.id, stageName: row.stage.name,
        attemptNumber: row.attempt.number, agentId: agent.id, spec: row.stage.spec, timeoutMs: row.stage.timeoutMs, queuedAt: row.attempt.assignedAt,
      }, deps.leaseTtlMs);
      return create(GetAssignmentResponseSchema, { assignment: await withSecrets(assignment, row.stage.spec) });
    }),
    pollAssignments: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const rows = await agentAttempts(db, agent.id);
      const assignments: Assignment[] = [];
      for (const r of rows.filter((x) => x.attempt.state === "assigned")) {
        const base = toAssignment({
          attemptId: r.attempt.id, leaseId: r.attempt.leaseId, runId: r.attempt.runId, stageId: r.stage.id,
          stageName: r.stage.name, attemptNumber: r.attempt.number, agentId: agent.id, spec: r.stage.spec,
          timeoutMs: r.stage.timeoutMs, queuedAt: r.attempt.assignedAt,
        }, deps.leaseTtlMs);
        // An attempt whose secret vanished was ended as errored: it is not handed out.
        const full = await withSecrets(base, r.stage.spec).catch(() => null);
        if (full) assignments.push(full);
      }
      return create(PollAssignmentsResponseSchema, { assignments, ownedAttemptIds: rows.map((r) => r.attempt.id) });
    }),
    setDraining: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      await setDraining(db, agent.id, call.request.draining);
      return create(DrainResponseSchema, {});
    }),
    leave: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      await leaveAgent(db, agent.id);
      const ended = await loseAgentAttempts(db, [agent.id], deps.clock.now(), "agent left");
      deps.scheduler.afterEnded(ended, "server");
      log.info({ agentId: agent.id, ended: ended.length }, "agent left");
      return create(LeaveResponseSchema, {});
    }),
    attemptStream: (call) => new AgentStream(call, deps, authenticate, finishes).start(),
  };
}
