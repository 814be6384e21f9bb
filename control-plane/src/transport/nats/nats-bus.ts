// The server's NATS side: dispatch wake-ups to agents, fan run events out to
// watchers on every replica, and serve registration and heartbeats (queue
// group, so each message is handled by one replica).
import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import {
  create, toBinary, fromBinary, AssignmentSchema, CancelAttemptSchema, RunEventSchema, HeartbeatSchema,
  RegisterRequestSchema, RegisterResponseSchema, HeartbeatAckSchema, type HeartbeatAck, type Assignment, type RunEvent, type Heartbeat, type RegisterRequest,
  type RegisterResponse, signPayload,
} from "@dockyard/proto";
import type { Logger } from "pino";
import { MAX_AGENT_MESSAGE_BYTES, SERVER_QUEUE, subjects, type Subjects } from "./subjects";

/**
 * Sends work to agents, signed with the agent's session key (see Signed in
 * agent.proto). A lost message only delays a stage: agents also poll.
 */
export class NatsBus {
  readonly subjects: Subjects;
  private subs: Subscription[] = [];

  constructor(private readonly nc: NatsConnection, prefix: string, private readonly log: Logger) {
    this.subjects = subjects(prefix);
  }

  assign(agentId: string, key: string, assignment: Assignment): void {
    this.nc.publish(this.subjects.assign(agentId), signPayload(key, toBinary(AssignmentSchema, assignment)));
  }

  cancel(agentId: string, key: string, attemptId: string, reason: string): void {
    const cancel = create(CancelAttemptSchema, { attemptId, reason });
    this.nc.publish(this.subjects.cancel(agentId), signPayload(key, toBinary(CancelAttemptSchema, cancel)));
  }

  publishEvents(events: RunEvent[]): void {
    for (const e of events) {
      this.nc.publish(this.subjects.runEvents(e.runId), toBinary(RunEventSchema, e));
      if (e.body.case === "run" && ["succeeded", "failed", "errored", "canceled"].includes(e.body.value.state)) {
        this.nc.publish(this.subjects.runEnded, e.runId);
      }
    }
  }

  /** Wake every replica's scheduler (capacity freed, work queued elsewhere). */
  kickAll(): void {
    this.nc.publish(this.subjects.kick);
  }

  onKick(fn: () => void): void {
    const sub = this.nc.subscribe(this.subjects.kick, { callback: () => fn() });
    this.subs.push(sub);
  }

  /** Live events of one run; call `close` when done. Messages that do not decode are dropped. */
  watchRunEvents(runId: string, onEvent: (e: RunEvent) => void): { close(): void } {
    const sub = this.nc.subscribe(this.subjects.runEvents(runId), {
      callback: (err, msg) => {
        if (err) return;
        try {
          onEvent(fromBinary(RunEventSchema, msg.data));
        } catch (e) {
          this.log.warn({ err: e, runId }, "undecodable run event dropped");
        }
      },
    });
    return { close: () => sub.unsubscribe() };
  }

  serveRegistration(handle: (req: RegisterRequest) => Promise<RegisterResponse>): void {
    const sub = this.nc.subscribe(this.subjects.register, {
      queue: SERVER_QUEUE,
      callback: (err, msg) => {
        if (err) return;
        void this.answerRegistration(msg, handle);
      },
    });
    this.subs.push(sub);
  }

  private async answerRegistration(msg: Msg, handle: (req: RegisterRequest) => Promise<RegisterResponse>) {
    const refuse = (code: string, message: string) =>
      create(RegisterResponseSchema, { result: { case: "refused", value: { code, message } } });
    let res: RegisterResponse;
    if (msg.data.length > MAX_AGENT_MESSAGE_BYTES) {
      res = refuse("invalid", `registration message is ${msg.data.length} bytes; the limit is ${MAX_AGENT_MESSAGE_BYTES}`);
    } else {
      let req: RegisterRequest | null = null;
      try {
        req = fromBinary(RegisterRequestSchema, msg.data);
      } catch {
        res = refuse("invalid", "registration message is not a dockyard.v1.RegisterRequest");
      }
      if (req) {
        try {
          res = await handle(req);
        } catch (err) {
          this.log.error({ err }, "registration failed");
          res = refuse("internal", "registration failed on the server; see its log");
        }
      }
    }
    msg.respond(toBinary(RegisterResponseSchema, res!));
  }

  serveHeartbeats(handle: (hb: Heartbeat) => Promise<HeartbeatAck>): void {
    const reply = (msg: Msg, ok: boolean, message: string): void => {
      msg.respond(toBinary(HeartbeatAckSchema, create(HeartbeatAckSchema, { ok, message })));
    };
    const sub = this.nc.subscribe(this.subjects.heartbeat, {
      queue: SERVER_QUEUE,
      callback: (err, msg) => {
        if (err) return;
        if (msg.data.length > MAX_AGENT_MESSAGE_BYTES) return reply(msg, false, "heartbeat message too large");
        let hb: Heartbeat;
        try {
          hb = fromBinary(HeartbeatSchema, msg.data);
        } catch {
          return reply(msg, false, "heartbeat is not a dockyard.v1.Heartbeat");
        }
        handle(hb).then((ack) => void msg.respond(toBinary(HeartbeatAckSchema, ack)), (e: unknown) => {
          this.log.error({ err: e }, "heartbeat failed");
          reply(msg, true, "server error; heartbeat not recorded");
        });
      },
    });
    this.subs.push(sub);
  }

  async close(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }
}
