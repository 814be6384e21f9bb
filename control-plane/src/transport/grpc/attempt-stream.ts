// The AttemptStream: one per agent connection, carrying the reports of every
// attempt the agent runs. Each attempt's reports are handled strictly in order
// (AttemptSession); attempts proceed independently. Log chunks that queue up
// while a write is in flight are persisted together (group commit), and each
// persisted seq is acknowledged. One attempt's trouble (a stale lease, a gap, a
// database error) is answered on that attempt alone; the stream ends only when
// the agent's session is no longer valid.
import type * as grpc from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  create,
  AttemptCommandSchema,
  type AttemptReport,
  type AttemptCommand,
  type Assignment,
} from "@dockyard/proto";
import { assignCommand } from "./agent-streams";
import type { AgentRow } from "../../store/agents";
import { appendLogs, openAttempt, renewLease, type OpenedAttempt, type IncomingChunk } from "../../store/attempts";
import type { FinishQueue } from "../../store/finish-queue";
import { toServiceError } from "./errors";
import { AttemptCanceledError, DockyardError, InvalidError, StaleLeaseError } from "../../errors";
import { isOutcome } from "../../domain/states";
import type { AgentHandlerDeps } from "./agent-deps";
import { outputsFromWire } from "../outputs-input";
import { releaseRetry } from "../../store/retry-hold";

/** Largest log chunk an agent may send. */
export const MAX_LOG_CHUNK_BYTES = 64 * 1024;
/** Attempts open at once on one stream (an agent runs at most a few times its capacity). */
const MAX_OPEN_ATTEMPTS = 4096;
/** Reports waiting behind one attempt's write: an agent waits for acks long before this. */
const MAX_QUEUED_REPORTS = 1024;

type CommandBody = NonNullable<MessageInitShape<typeof AttemptCommandSchema>["body"]>;
type Call = grpc.ServerDuplexStream<AttemptReport, AttemptCommand>;

export class AgentStream {
  private readonly sessions = new Map<string, AttemptSession>();
  /** Attempts told to reopen (reports arrived for them without `open`); told once until they do. */
  private readonly toldToReopen = new Set<string>();
  private agent: AgentRow | null = null;
  private early: AttemptReport[] = [];
  closed = false;

  constructor(
    private readonly call: Call,
    readonly deps: AgentHandlerDeps,
    private readonly authenticate: (md: grpc.Metadata) => Promise<AgentRow>,
    /** Shared by every stream of the server, so ends from all agents group-commit together. */
    readonly finishes: FinishQueue,
  ) {}

  start(): void {
    this.authenticate(this.call.metadata).then(
      (agent) => {
        this.agent = agent;
        this.deps.streams?.add(agent.id, this);
        for (const r of this.early.splice(0)) this.route(r);
      },
      (err: unknown) => this.destroy(err),
    );
    this.call.on("data", (report: AttemptReport) => {
      if (this.agent) this.route(report);
      else if (this.early.length < MAX_QUEUED_REPORTS) this.early.push(report);
      else this.destroy(new InvalidError("too many reports before the stream was authenticated"));
    });
    this.call.on("end", () => {
      this.close();
      this.call.end();
    });
    this.call.on("error", () => this.close());
  }

  /** The stream's agent, checked again (through the session cache) whenever an attempt opens. */
  async currentAgent(): Promise<AgentRow> {
    return (this.agent = await this.authenticate(this.call.metadata));
  }

  send(attemptId: string, body: CommandBody): void {
    if (!this.closed) this.call.write(create(AttemptCommandSchema, { attemptId, body }));
  }

  /** Forget an attempt's session (it ended, was refused, or must reopen). */
  drop(attemptId: string, session: AttemptSession): void {
    if (this.sessions.get(attemptId) === session) this.sessions.delete(attemptId);
  }

  /** The agent's session is not valid any more: end the stream (its attempts reopen on a new one). */
  destroy(err: unknown): void {
    // Not `destroy`: a destroyed grpc-js server stream never sends its status, and the agent would wait forever.
    if (!this.closed) this.call.emit("error", toServiceError(err, this.deps.log));
    this.close();
  }

  /** Hand the agent an attempt placed on it (see agent-streams.ts). */
  push(assignment: Assignment): boolean {
    if (this.closed) return false;
    this.call.write(assignCommand(assignment));
    return true;
  }

  private close(): void {
    if (this.agent) this.deps.streams?.remove(this.agent.id, this);
    this.closed = true;
    this.sessions.clear();
    this.early = [];
  }

  private route(report: AttemptReport): void {
    if (this.closed) return;
    const id = report.attemptId;
    if (report.body.case === "open") {
      if (!this.sessions.has(id) && this.sessions.size >= MAX_OPEN_ATTEMPTS) {
        this.send(id, {
          case: "rejected",
          value: { code: "invalid", message: `more than ${MAX_OPEN_ATTEMPTS} attempts open on one stream` },
        });
        return;
      }
      this.toldToReopen.delete(id);
      // A reopen replaces the attempt's earlier session, which then answers nothing more
      // (a write it has in flight still completes, guarded by the lease).
      this.sessions.get(id)?.retire();
      const session = new AttemptSession(this, id);
      this.sessions.set(id, session);
      session.push(report);
      return;
    }
    const session = this.sessions.get(id);
    if (session) {
      session.push(report);
    } else if (!this.toldToReopen.has(id) && id.length <= 64) {
      // Reports in flight after a `retry`, or an agent that skipped `open`: either way the
      // attempt must (re)open before anything it says counts. Nothing is lost: it resends.
      if (this.toldToReopen.size > MAX_OPEN_ATTEMPTS) this.toldToReopen.clear();
      this.toldToReopen.add(id);
      this.send(id, {
        case: "retry",
        value: { message: `attempt ${id} is not open on this stream: send 'open' first` },
      });
    }
  }
}

/** One attempt on an agent's stream, from `open` to its acknowledged end. */
class AttemptSession {
  /** Reports waiting, with the time each arrived (a started or log write is stamped with it). */
  private queue: { report: AttemptReport; at: Date }[] = [];
  private busy = false;
  private opened: OpenedAttempt | null = null;
  private done = false;
  /** The kind of report being handled (labels the stale-write counter). */
  private handling = "unknown";
  /**
   * Set once the attempt turned out to be canceled under this lease: from then on its
   * reports are answered (acknowledged, output dropped) without the database, and never
   * counted as stale writes; the agent was told to stop once.
   */
  private canceled: AttemptCanceledError | null = null;
  /** Highest log seq taken off the queue, or persisted: what a canceled attempt's acks confirm. */
  private seenSeq = 0;

  constructor(
    private readonly stream: AgentStream,
    private readonly attemptId: string,
  ) {}

  push(report: AttemptReport): void {
    if (this.done) return;
    if (this.queue.length >= MAX_QUEUED_REPORTS) {
      return this.fail(
        new InvalidError(
          `more than ${MAX_QUEUED_REPORTS} reports of attempt ${this.attemptId} wait; wait for acknowledgements`,
        ),
      );
    }
    this.queue.push({ report, at: this.stream.deps.clock.now() });
    void this.drain();
  }

  private send(body: CommandBody): void {
    if (!this.done) this.stream.send(this.attemptId, body);
  }

  /** Superseded by a reopen of the attempt on this stream. */
  retire(): void {
    this.done = true;
    this.queue = [];
  }

  private end(): void {
    this.done = true;
    this.queue = [];
    this.stream.drop(this.attemptId, this);
  }

  private fail(err: unknown): void {
    const { metrics, log } = this.stream.deps;
    if (err instanceof StaleLeaseError) metrics.staleWrites.inc({ kind: this.handling });
    if (err instanceof DockyardError && err.code === "unauthenticated") {
      this.stream.destroy(err);
    } else if (err instanceof DockyardError && err.code === "unavailable") {
      // A race with another session of the attempt: reopen and resend, the lease is fine.
      this.send({ case: "retry", value: { message: err.message, held: false } });
    } else if (err instanceof DockyardError) {
      this.send({ case: "rejected", value: { code: err.code, message: err.message } });
    } else {
      // Not the agent's fault (the database, say): it reopens later and resends.
      log.error({ err, attemptId: this.attemptId }, "attempt report failed");
      // `held`: a dependency is down, so this server gives nothing away (see AttemptRetry.held).
      const held = this.stream.deps.dependencyDown?.() ?? false;
      this.send({ case: "retry", value: { message: "the server could not handle the report; reopen later", held } });
    }
    this.end();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.done && !this.stream.closed) {
        try {
          await this.handleNext();
        } catch (err) {
          if (!(err instanceof AttemptCanceledError) || this.canceled) throw err;
          this.onCanceled(err);
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.busy = false;
    }
  }

  private async handleNext(): Promise<void> {
    const { db, clock, leaseTtlMs, placements } = this.stream.deps;
    const { report } = this.queue[0]!;
    this.handling = report.body.case ?? "unknown";
    if (this.canceled) {
      this.queue.shift();
      return this.answerCanceled(report);
    }
    if (!this.opened) {
      this.queue.shift();
      const agent = await this.stream.currentAgent();
      // The placement cache only for a first open: after a reconnect (maybe from another
      // replica's stream) only the database knows what was persisted.
      const resume = report.body.case === "open" && report.body.value.resume;
      this.opened =
        (resume ? null : placements?.take(report.attemptId, report.leaseId, agent.id)) ??
        (await openAttempt(db, report.attemptId, report.leaseId, agent.id));
      this.seenSeq = this.opened.attempt.logSeq;
      this.send({
        case: "ack",
        value: { logSeq: BigInt(this.opened.attempt.logSeq), started: this.opened.attempt.state === "running" },
      });
      return;
    }
    const { attempt } = this.opened;
    if (report.leaseId !== attempt.leaseId) {
      throw new StaleLeaseError(report.attemptId, "report names another lease than the attempt's open one");
    }
    switch (report.body.case) {
      case "started":
      case "log":
        return this.startOrLog(report.body.case === "started");
      case "renew": {
        this.queue.shift();
        const expires = await renewLease(db, attempt.id, attempt.leaseId, clock.now(), leaseTtlMs);
        this.send({
          case: "ack",
          value: { logSeq: BigInt(attempt.logSeq), leaseExpiresAtMs: BigInt(expires.getTime()) },
        });
        return;
      }
      case "finished": {
        this.queue.shift();
        const f = report.body.value;
        if (!isOutcome(f.outcome)) throw new InvalidError(`unknown outcome '${f.outcome.slice(0, 32)}'`);
        if (Number(f.lastLogSeq) !== attempt.logSeq) {
          throw new InvalidError(
            `finished after log seq ${f.lastLogSeq} but ${attempt.logSeq} is persisted; send the missing chunks first`,
          );
        }
        // A failed test stage's counts are shown too; an agent's other ends carry none.
        const outputs = f.outcome === "succeeded" || f.outcome === "failed" ? outputsFromWire(f.outputs) : null;
        // The agent sends -1 when the process never exited on its own (an error, a lost or canceled attempt): no exit
        // code.
        const exitCode = f.exitCode >= 0 ? f.exitCode : null;
        const ended = await this.stream.finishes
          .finish(attempt.id, attempt.leaseId, f.outcome, exitCode, f.message.slice(0, 500), outputs)
          .catch(async (err: unknown) => {
            // Ended by the server already (a revocation, a timeout): the agent's end confirms the
            // stop, so a retry waiting for the old copy may be placed now.
            if (err instanceof StaleLeaseError && (await releaseRetry(db, attempt.id, attempt.leaseId, clock.now())))
              this.stream.deps.scheduler.kick();
            throw err;
          });
        this.stream.deps.scheduler.afterEnded([ended], "agent");
        this.send({ case: "ack", value: { finished: true, logSeq: BigInt(attempt.logSeq) } });
        this.end();
        return;
      }
      default:
        throw new InvalidError("empty attempt report");
    }
  }

  /**
   * The attempt was canceled while this lease held it (the user canceled the run, or the
   * agent's own `canceled` end was already written): tell the agent to stop, once, and
   * answer the report that found out as if it had been written.
   */
  private onCanceled(err: AttemptCanceledError): void {
    this.canceled = err;
    this.seenSeq = Math.max(this.seenSeq, err.logSeq);
    this.send({ case: "cancel", value: { reason: err.reason } });
    this.answerCanceled(null);
  }

  /**
   * Answer a report of a canceled attempt (`report`, or null for the one being handled when
   * the cancel was found): output is acknowledged and dropped (a canceled stage takes no
   * more logs), `finished` is acknowledged and ends the session, anything else is acknowledged.
   */
  private answerCanceled(report: AttemptReport | null): void {
    const body = report?.body;
    if (body?.case === "log") this.seenSeq = Math.max(this.seenSeq, Number(body.value.seq));
    const kind = report ? body?.case : this.handling;
    if (kind === "finished") {
      this.send({ case: "ack", value: { finished: true, logSeq: BigInt(this.seenSeq) } });
      this.end();
      return;
    }
    this.send({ case: "ack", value: { logSeq: BigInt(this.seenSeq), started: true } });
  }

  /**
   * `started` and the chunks right behind it are written in one transaction (the first log
   * byte should not wait for a separate commit); later chunks group-commit the same way.
   */
  private async startOrLog(start: boolean): Promise<void> {
    const { db, leaseTtlMs, metrics, publish } = this.stream.deps;
    const opened = this.opened!;
    // The agent sends `started` together with the first output when it comes quickly; the
    // chunk may reach us a tick later, and one statement for both saves a commit.
    if (start && this.queue.length === 1) await new Promise((r) => setImmediate(r));
    let arrived = this.queue[0]!.at;
    if (start) this.queue.shift();
    const chunks: IncomingChunk[] = [];
    while (this.queue[0]?.report.body.case === "log" && chunks.length < 256) {
      const next = this.queue.shift()!;
      arrived = next.at;
      const c = next.report.body.value as { seq: bigint; data: Uint8Array; stream: number };
      this.seenSeq = Math.max(this.seenSeq, Number(c.seq));
      if (c.data.length > MAX_LOG_CHUNK_BYTES)
        throw new InvalidError(`log chunk of ${c.data.length} bytes exceeds ${MAX_LOG_CHUNK_BYTES}`);
      chunks.push({ seq: Number(c.seq), data: Buffer.from(c.data), stream: c.stream });
    }
    const assigned = opened.attempt.state === "assigned";
    // Stamped with the arrival of the batch's last report (not the later time of the write).
    const { events, logSeq } = await appendLogs(db, opened, chunks, arrived, { start, leaseTtlMs });
    opened.attempt.logSeq = logSeq;
    if (chunks.length > 0) metrics.logBytes.inc(chunks.reduce((n, c) => n + c.data.length, 0));
    publish(events);
    // A start that moved the attempt to running wrote its lease too (markStartedTx): the agent
    // counts this ack as its first renewal instead of sending one (a statement per stage saved).
    const leased = start && assigned && opened.attempt.state === "running";
    const leaseExpiresAtMs = leased ? BigInt(arrived.getTime() + leaseTtlMs) : 0n;
    this.send({ case: "ack", value: { logSeq: BigInt(logSeq), started: start, leaseExpiresAtMs } });
  }
}
