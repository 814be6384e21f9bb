// AgentService handlers: registration, heartbeats, assignments, draining and
// leaving here; the attempt stream in attempt-stream.ts.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  create,
  AgentService,
  PollAssignmentsResponseSchema,
  DrainResponseSchema,
  LeaveResponseSchema,
  HeartbeatResponseSchema,
  GetAssignmentResponseSchema,
  UploadArtifactResponseSchema,
  type ServiceHandlers,
  type Assignment,
} from "@dockyard/proto";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { leaveAgent, recordHeartbeat, setDraining } from "../../store/agents";
import type { PlacementCache } from "../../scheduler/placement-cache";
import { agentAttempt, agentAttempts, finishAttempt, loseAgentAttempts } from "../../store/attempts";
import type { StageSpecRow } from "../../store/schema";
import { needsLookup, type AssignmentInputs } from "../../stages/assignment";
import { toAssignment } from "../convert";
import { toServiceError } from "./errors";
import { streamRunSource } from "./run-source";
import { storeArtifact } from "../../store/artifacts";
import { checkInventory, reconcileInventory } from "./heartbeat-inventory";
import { AgentStream } from "./attempt-stream";
import { AgentAuth } from "./agent-auth";
import type { AgentStreams } from "./agent-streams";
import { handleRegistration, type RegistrationDeps } from "./registration";
import { FinishQueue } from "../../store/finish-queue";
import type { Scheduler } from "../../scheduler/scheduler";
import type { ServerMetrics } from "../../metrics";
import type { RunEventRecord } from "../../store/events";
import { DockyardError, InvalidError, NotFoundError } from "../../errors";
import type { AgentHandlerDeps } from "./agent-deps";

export type { AgentHandlerDeps } from "./agent-deps";

type Handlers = ServiceHandlers<(typeof AgentService)["method"]>;

/** A unary handler: run, answer, map errors. */
function unary<Req, Res>(
  log: Logger,
  fn: (call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call).then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err, log)),
    );
  };
}

export function agentHandlers(deps: AgentHandlerDeps): Handlers {
  const { db, log } = deps;
  const auth = new AgentAuth(db, () => deps.clock.now().getTime());
  const finishes = new FinishQueue(db, deps.clock, (n) => deps.metrics.finishBatch.observe(n));
  const authenticate = (md: grpc.Metadata) => auth.authenticate(md);
  const register = handleRegistration({ ...deps.registration, db, clock: deps.clock, log });

  /**
   * The assignment, with what it reads fetched first (outputs, secrets, registry password).
   * A stage whose secret vanished since the submit, or that reads an output its stage did
   * not report, ends as errored with that message.
   */
  const assignmentFor = async (p: Parameters<typeof toAssignment>[0]): Promise<Assignment> => {
    if (!needsLookup(p.spec)) return toAssignment(p, deps);
    try {
      return toAssignment(p, deps, await deps.assignmentInputs(p.runId, p.spec, p.agentId));
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof InvalidError)) throw err;
      const ended = await finishAttempt(
        db,
        p.attemptId,
        p.leaseId,
        "errored",
        null,
        err.message,
        deps.clock.now(),
      ).catch(() => null);
      if (ended) deps.scheduler.afterEnded([ended], "agent");
      throw new DockyardError("stale_lease", `attempt ${p.attemptId} cannot run: ${err.message}`);
    }
  };

  return {
    register: unary(log, (call) => register(call.request)),
    heartbeat: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const inventory = checkInventory(call.request);
      const [ok, endedRuns] = await Promise.all([
        recordHeartbeat(
          deps.liveDb ?? db,
          agent.id,
          agent.sessionId,
          call.request.draining,
          deps.clock.now(),
          Number(call.request.buildCacheBytes),
        ),
        // Bookkeeping, not liveness: a failed write answers nothing ended, the next heartbeat asks again.
        reconcileInventory(db, agent.id, inventory, deps.clock.now()).catch((err: unknown) => {
          log.warn({ err, agentId: agent.id }, "heartbeat inventory failed");
          return [];
        }),
      ]);
      if (!ok)
        throw new DockyardError(
          "stale_lease",
          `agent ${agent.id} was declared ${agent.state === "online" ? "lost" : agent.state}: register again`,
        );
      return create(HeartbeatResponseSchema, { endedRuns });
    }),
    getAssignment: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const attemptId = call.request.attemptId;
      if (!/^[0-9a-f-]{36}$/.test(attemptId)) throw new DockyardError("invalid", "attempt_id must be a UUID");
      const placed = deps.placements?.peek(attemptId, agent.id);
      if (placed) return create(GetAssignmentResponseSchema, { assignment: await assignmentFor(placed) });
      const row = await agentAttempt(db, agent.id, attemptId);
      if (!row)
        throw new DockyardError("stale_lease", `attempt ${attemptId} is not assigned to agent ${agent.id} (any more)`);
      const assignment = await assignmentFor({
        attemptId: row.attempt.id,
        leaseId: row.attempt.leaseId,
        runId: row.attempt.runId,
        stageId: row.stage.id,
        stageName: row.stage.name,
        attemptNumber: row.attempt.number,
        agentId: agent.id,
        spec: row.stage.spec,
        timeoutMs: row.stage.timeoutMs,
        queuedAt: row.attempt.assignedAt,
      });
      return create(GetAssignmentResponseSchema, { assignment });
    }),
    pollAssignments: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const rows = await agentAttempts(db, agent.id);
      const assignments: Assignment[] = [];
      for (const r of rows.filter((x) => x.attempt.state === "assigned")) {
        // An attempt whose secret or input vanished was ended as errored: it is not handed out.
        const full = await assignmentFor({
          attemptId: r.attempt.id,
          leaseId: r.attempt.leaseId,
          runId: r.attempt.runId,
          stageId: r.stage.id,
          stageName: r.stage.name,
          attemptNumber: r.attempt.number,
          agentId: agent.id,
          spec: r.stage.spec,
          timeoutMs: r.stage.timeoutMs,
          queuedAt: r.attempt.assignedAt,
        }).catch(() => null);
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
      const ended = await loseAgentAttempts(db, [agent.id], deps.clock.now(), "agent left", {
        retryMarginMs: deps.scheduler.retryMarginMs,
      });
      deps.scheduler.afterEnded(ended, "server");
      log.info({ agentId: agent.id, ended: ended.length }, "agent left");
      return create(LeaveResponseSchema, {});
    }),
    attemptStream: (call) => new AgentStream(call, deps, authenticate, finishes).start(),
    // Only the agent holding the attempt's live lease may store to it (checked in the store's transaction).
    uploadArtifact: unary(log, async (call) => {
      const agent = await authenticate(call.metadata);
      const stored = await storeArtifact(db, agent.id, call.request, deps.clock.now());
      log.debug({ agentId: agent.id, attemptId: call.request.attemptId, artifact: stored.id }, "artifact stored");
      return create(UploadArtifactResponseSchema, { artifactId: stored.id, created: stored.created });
    }),
    getRunSource: (call) => {
      authenticate(call.metadata)
        .then((agent) => streamRunSource(call, db, agent.id))
        // emit("error") sends the status; destroy(err) left the agent waiting without one.
        .catch((err: unknown) => call.emit("error", toServiceError(err, log)));
    },
  };
}
