// Registration and heartbeat handling (NATS request/reply).
import { create, RegisterResponseSchema, HeartbeatAckSchema, PROTOCOL_VERSION, type RegisterRequest, type RegisterResponse, type Heartbeat, type HeartbeatAck } from "@dockyard/proto";
import type { Logger } from "pino";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { registerAgent, recordHeartbeat } from "../../store/agents";
import { DockyardError } from "../../errors";

export interface SessionTimings {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  agentPollIntervalMs: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;
const EXECUTORS = new Set(["docker", "shell"]);

/** Every problem with a registration request, empty when it is acceptable. */
export function registrationProblems(req: RegisterRequest): string[] {
  const problems: string[] = [];
  if (req.protocolVersion !== PROTOCOL_VERSION) {
    problems.push(`agent speaks protocol ${req.protocolVersion}, server speaks ${PROTOCOL_VERSION}`);
  }
  if (!NAME.test(req.name)) problems.push(`name '${req.name.slice(0, 64)}' must match ${NAME.source}`);
  if (req.agentId && !/^[0-9a-f-]{36}$/.test(req.agentId)) problems.push("agent_id must be a UUID");
  if (req.capacity < 1 || req.capacity > 256) problems.push(`capacity ${req.capacity} must be between 1 and 256`);
  const labels = Object.entries(req.labels);
  if (labels.length > 32) problems.push(`${labels.length} labels; at most 32 are allowed`);
  for (const [k, v] of labels.slice(0, 32)) {
    if (!LABEL_KEY.test(k)) problems.push(`label key '${k.slice(0, 64)}' must match ${LABEL_KEY.source}`);
    if (v.length > 128) problems.push(`label '${k}' value is longer than 128 characters`);
  }
  if (req.executors.length === 0 || req.executors.some((e) => !EXECUTORS.has(e))) {
    problems.push(`executors must be a non-empty subset of docker, shell; got [${req.executors.join(", ").slice(0, 64)}]`);
  }
  if (req.hostname.length > 253 || req.version.length > 64) problems.push("hostname or version is too long");
  return problems;
}

export function handleRegistration(db: Db, clock: Clock, timings: SessionTimings, log: Logger) {
  return async (req: RegisterRequest): Promise<RegisterResponse> => {
    const refuse = (code: string, message: string) =>
      create(RegisterResponseSchema, { result: { case: "refused", value: { code, message } } });
    const problems = registrationProblems(req);
    if (problems.length > 0) {
      const code = req.protocolVersion !== PROTOCOL_VERSION ? "protocol_mismatch" : "invalid";
      return refuse(code, problems.join("; "));
    }
    try {
      const { agentId, sessionToken } = await registerAgent(db, {
        joinToken: req.joinToken, agentId: req.agentId, name: req.name, hostname: req.hostname, labels: req.labels,
        capacity: req.capacity, executors: req.executors, version: req.version,
      }, clock.now());
      log.info({ agentId, name: req.name, labels: req.labels, capacity: req.capacity }, "agent registered");
      return create(RegisterResponseSchema, {
        result: { case: "accepted", value: {
          agentId, sessionToken, heartbeatIntervalMs: BigInt(timings.heartbeatIntervalMs),
          leaseTtlMs: BigInt(timings.leaseTtlMs), pollIntervalMs: BigInt(timings.agentPollIntervalMs),
        } },
      });
    } catch (err) {
      if (err instanceof DockyardError) {
        log.warn({ name: req.name, code: err.code }, "agent registration refused");
        return refuse(err.code, err.message);
      }
      throw err;
    }
  };
}

export function handleHeartbeat(db: Db, clock: Clock) {
  return async (hb: Heartbeat): Promise<HeartbeatAck> => {
    if (!/^[0-9a-f-]{36}$/.test(hb.agentId)) return create(HeartbeatAckSchema, { ok: false, message: "agent_id must be a UUID" });
    const ok = await recordHeartbeat(db, hb.agentId, hb.sessionToken, hb.draining, clock.now());
    return create(HeartbeatAckSchema, { ok, message: ok ? "" : "session unknown, replaced or agent declared lost: register again" });
  };
}
