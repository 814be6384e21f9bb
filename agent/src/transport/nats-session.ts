// Registration (request/reply with the join token) and heartbeats over NATS;
// assignment and cancel wake-ups arrive on the agent's own subjects.
import os from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  create, toBinary, fromBinary, RegisterRequestSchema, RegisterResponseSchema, HeartbeatSchema, HeartbeatAckSchema,
  AssignmentSchema, CancelAttemptSchema, PROTOCOL_VERSION, verifyPayload, type Assignment, type CancelAttempt, type RegisterAccepted,
} from "@dockyard/proto";
import type { Logger } from "pino";

export class RegistrationRefusedError extends Error {
  constructor(readonly code: string, message: string) {
    super(`registration refused (${code}): ${message}`);
  }
}

export interface RegisterParams {
  joinToken: string;
  agentId: string;
  name: string;
  labels: Record<string, string>;
  capacity: number;
  executors: string[];
}

export const AGENT_VERSION = "0.1.0";

export class NatsSession {
  constructor(private readonly nc: NatsConnection, private readonly prefix: string, private readonly log: Logger) {}

  /** One registration request; throws RegistrationRefusedError (final) or a transport error (retryable). */
  async register(p: RegisterParams): Promise<RegisterAccepted> {
    const req = create(RegisterRequestSchema, {
      joinToken: p.joinToken, agentId: p.agentId, name: p.name, hostname: os.hostname(), labels: p.labels,
      capacity: p.capacity, protocolVersion: PROTOCOL_VERSION, executors: p.executors, version: AGENT_VERSION,
    });
    const msg = await this.nc.request(`${this.prefix}.agents.register`, toBinary(RegisterRequestSchema, req), { timeout: 5000 });
    const res = fromBinary(RegisterResponseSchema, msg.data);
    if (res.result.case === "accepted") return res.result.value;
    if (res.result.case === "refused") throw new RegistrationRefusedError(res.result.value.code, res.result.value.message);
    throw new Error("empty registration response");
  }

  /** Returns false when the server wants us to register again. */
  async heartbeat(agentId: string, sessionToken: string, running: string[], draining: boolean): Promise<boolean> {
    const hb = create(HeartbeatSchema, { agentId, sessionToken, runningAttemptIds: running, draining });
    const msg = await this.nc.request(`${this.prefix}.agents.heartbeat`, toBinary(HeartbeatSchema, hb), { timeout: 3000 });
    const ack = fromBinary(HeartbeatAckSchema, msg.data);
    if (!ack.ok) this.log.warn({ message: ack.message }, "heartbeat refused");
    return ack.ok;
  }

  /** Subscribe to this agent's assignment and cancel subjects. */
  /**
   * Subscribe to this agent's assignment and cancel subjects. Both must be
   * signed with the current session's key (`key()`); anything else is
   * dropped, so another NATS client cannot make this agent act.
   */
  listen(
    agentId: string, key: () => string,
    onAssign: (a: Assignment) => void, onCancel: (c: CancelAttempt) => void, onRunEnded: (runId: string) => void,
  ): { close(): void } {
    const decodeInto = <T>(fn: (m: Uint8Array) => T, use: (v: T) => void) => (err: Error | null, msg: { data: Uint8Array; subject: string }) => {
      if (err) return;
      const payload = verifyPayload(key(), msg.data);
      if (!payload) {
        this.log.warn({ subject: msg.subject }, "unsigned or forged message dropped");
        return;
      }
      try {
        use(fn(payload));
      } catch {
        this.log.warn("undecodable message dropped");
      }
    };
    const a = this.nc.subscribe(`${this.prefix}.agent.${agentId}.assign`, {
      callback: decodeInto((d) => fromBinary(AssignmentSchema, d), onAssign),
    });
    const c = this.nc.subscribe(`${this.prefix}.agent.${agentId}.cancel`, {
      callback: decodeInto((d) => fromBinary(CancelAttemptSchema, d), onCancel),
    });
    const r = this.nc.subscribe(`${this.prefix}.agents.run-ended`, {
      callback: (err, msg) => {
        const runId = err ? "" : msg.string();
        if (/^[0-9a-f-]{36}$/.test(runId)) onRunEnded(runId);
      },
    });
    return { close: () => { a.unsubscribe(); c.unsubscribe(); r.unsubscribe(); } };
  }
}
