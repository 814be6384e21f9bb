// The server's NATS side: wake agents up, tell them to cancel or drop a run's
// workspace, fan run events out to watchers on every replica, and wake the
// other replicas' schedulers. Nothing here carries a secret:
//  - what agents receive is a ServerNotice signed with the server signing key
//    (with an expiry and a nonce), and a wake-up only names an attempt: the
//    agent fetches the assignment itself over gRPC/TLS;
//  - what replicas tell each other (run events, kicks) is sealed with the farm
//    key (AES-256-GCM), so neither an agent nor another NATS client can read
//    or forge it.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { KeyObject } from "node:crypto";
import { toBinary, fromBinary, RunEventSchema, signNotice, type RunEvent, type FarmSealer } from "@dockyard/proto";
import type { Logger } from "pino";
import { subjects, type Subjects } from "./subjects";
import { isTerminalRun } from "../../domain/states";

/** A kick older than this is dropped (a replay). */
const KICK_MAX_AGE_MS = 30_000;

export interface NatsBusKeys {
  signingKey: KeyObject;
  sealer: FarmSealer;
}

/** A lost message only delays a stage: agents also poll, watchers also read Postgres. */
export class NatsBus {
  readonly subjects: Subjects;
  private subs: Subscription[] = [];
  /** Messages dropped because they were not sealed with the farm key (forged, or another farm's). */
  refused = 0;

  constructor(
    private readonly nc: NatsConnection,
    prefix: string,
    private readonly keys: NatsBusKeys,
    private readonly log: Logger,
  ) {
    this.subjects = subjects(prefix);
  }

  assign(agentId: string, attemptId: string): void {
    this.nc.publish(
      this.subjects.assign(agentId),
      signNotice(this.keys.signingKey, agentId, { case: "assign", value: { attemptId } }),
    );
  }

  cancel(agentId: string, attemptId: string, reason: string): void {
    this.nc.publish(
      this.subjects.cancel(agentId),
      signNotice(this.keys.signingKey, agentId, { case: "cancel", value: { attemptId, reason: reason.slice(0, 200) } }),
    );
  }

  publishEvents(events: RunEvent[]): void {
    const changed = new Set<string>();
    for (const e of events) {
      if (e.body.case === "run" || e.body.case === "stage") changed.add(e.runId);
      const subject = this.subjects.runEvents(e.runId);
      this.nc.publish(subject, this.keys.sealer.seal(subject, toBinary(RunEventSchema, e)));
      if (e.body.case === "run" && isTerminalRun(e.body.value.state)) {
        this.nc.publish(
          this.subjects.runEnded,
          signNotice(this.keys.signingKey, "", {
            case: "runEnded",
            value: { runId: e.runId, state: e.body.value.state },
          }),
        );
      }
    }
    const subject = this.subjects.runsChanged;
    for (const runId of changed) this.nc.publish(subject, this.keys.sealer.seal(subject, Buffer.from(runId, "utf8")));
  }

  /** Ids of runs created or changed on any replica (a wake-up: a lost one is found by the reader's poll). */
  watchRunsChanged(onRun: (runId: string) => void): { close(): void } {
    const subject = this.subjects.runsChanged;
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const plain = this.keys.sealer.open(subject, msg.data);
        if (!plain || plain.length > 64) return this.drop(subject, "run change not sealed with the farm key");
        onRun(Buffer.from(plain).toString("utf8"));
      },
    });
    return { close: () => sub.unsubscribe() };
  }

  /** Wake every replica's scheduler (capacity freed, work queued elsewhere). */
  kickAll(): void {
    const at = Buffer.alloc(8);
    at.writeDoubleBE(Date.now());
    this.nc.publish(this.subjects.kick, this.keys.sealer.seal(this.subjects.kick, at));
  }

  onKick(fn: () => void): void {
    const sub = this.nc.subscribe(this.subjects.kick, {
      callback: (err, msg) => {
        if (err) return;
        const at = this.keys.sealer.open(this.subjects.kick, msg.data);
        if (!at || at.length !== 8 || Math.abs(Date.now() - Buffer.from(at).readDoubleBE(0)) > KICK_MAX_AGE_MS) {
          this.drop(msg.subject, "unsealed or stale scheduler kick");
          return;
        }
        fn();
      },
    });
    this.subs.push(sub);
  }

  /**
   * Live events of one run; call `close` when done. Only events sealed by a
   * replica for this run's subject, and naming this run, get through.
   */
  watchRunEvents(runId: string, onEvent: (e: RunEvent) => void): { close(): void } {
    const subject = this.subjects.runEvents(runId);
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const plain = this.keys.sealer.open(subject, msg.data);
        if (!plain) return this.drop(subject, "run event not sealed with the farm key");
        try {
          const e = fromBinary(RunEventSchema, plain);
          if (e.runId !== runId) return this.drop(subject, "run event names another run");
          onEvent(e);
        } catch (e) {
          this.log.warn({ err: e, runId }, "undecodable run event dropped");
        }
      },
    });
    return { close: () => sub.unsubscribe() };
  }

  private drop(subject: string, why: string): void {
    this.refused++;
    this.log.warn({ subject, why }, "nats message refused");
  }

  async close(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }
}
