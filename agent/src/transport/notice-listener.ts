// The agent's NATS side: wake-ups, cancels and run-ended broadcasts from the
// server. Each is a ServerNotice signed with the server signing key the agent
// learnt over the pinned TLS connection at registration; a notice is acted on
// only when the signature holds, it names this agent (or is a broadcast), its
// kind fits its subject, it has not expired and its nonce is new. Anything else
// is dropped and counted, so another NATS client cannot make this agent act.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { KeyObject } from "node:crypto";
import { NonceCache, openNotice, type ServerNotice } from "@dockyard/proto";
import type { Logger } from "pino";

export interface NoticeHandlers {
  onAssign(attemptId: string): void;
  onCancel(attemptId: string, reason: string): void;
  onRunEnded(runId: string, state: string): void;
}

/** Largest notice accepted (real ones are a few hundred bytes). */
const MAX_NOTICE_BYTES = 4096;

export class NoticeListener {
  private subs: Subscription[] = [];
  private readonly nonces = new NonceCache();
  /** Notices dropped (forged, replayed, expired, misdirected): tests and logs read it. */
  refused = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /** (Re)subscribe for `agentId`, trusting `serverKey()` (read per message: it changes with a re-registration). */
  listen(agentId: string, serverKey: () => KeyObject | null, handlers: NoticeHandlers): void {
    this.close();
    const on = (subject: string, kind: NonNullable<ServerNotice["body"]["case"]>, broadcast: boolean) =>
      this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          const notice = this.check(msg.subject, msg.data, serverKey(), kind, broadcast ? "" : agentId);
          if (!notice) return;
          const b = notice.body;
          if (b.case === "assign") handlers.onAssign(b.value.attemptId);
          else if (b.case === "cancel") handlers.onCancel(b.value.attemptId, b.value.reason);
          else if (b.case === "runEnded") handlers.onRunEnded(b.value.runId, b.value.state);
        },
      });
    this.subs = [
      on(`${this.prefix}.agent.${agentId}.assign`, "assign", false),
      on(`${this.prefix}.agent.${agentId}.cancel`, "cancel", false),
      on(`${this.prefix}.agents.run-ended`, "runEnded", true),
    ];
  }

  private check(
    subject: string,
    data: Uint8Array,
    key: KeyObject | null,
    kind: string,
    agentId: string,
  ): ServerNotice | null {
    const refuse = (why: string) => {
      this.refused++;
      this.log.warn({ subject, why }, "notice refused");
      return null;
    };
    if (!key) return refuse("no server key yet");
    if (data.length > MAX_NOTICE_BYTES) return refuse(`larger than ${MAX_NOTICE_BYTES} bytes`);
    const opened = openNotice(key, data);
    if (!opened.ok) return refuse(opened.why);
    const n = opened.notice;
    if (n.body.case !== kind) return refuse(`a ${n.body.case ?? "empty"} notice on the ${kind} subject`);
    if (n.agentId !== agentId) return refuse("addressed to another agent");
    if (!this.nonces.accept(n.nonce, Number(n.expiresAtMs))) return refuse("expired or replayed");
    return n;
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }
}
