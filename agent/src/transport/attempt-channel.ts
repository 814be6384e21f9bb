// One attempt's conversation with the server over the agent's shared stream
// (see attempt-mux.ts), kept alive across server restarts and network blips:
// on reconnect it re-opens with the lease, learns the highest persisted log seq
// and resends the rest, then any pending started/finished.
import { performance } from "node:perf_hooks";
import type { AttemptCommand } from "@dockyard/proto";
import type { Logger } from "pino";
import type { AttemptMux, AttemptPipe, ReportBody } from "./attempt-mux";
import type { FinalStatus, SpooledChunk } from "../logs/spool";
import { Backoff, BACKOFF } from "../retry";

export type FinishResult = "acked" | "rejected" | "closed";

export interface ChannelHandlers {
  /** The server rejected the lease: the attempt is not ours any more. */
  onRejected(message: string): void;
  /** An ack made room in the send window. */
  onRoom(): void;
  /** A lease renewal sent at `sentAt` (performance.now()) was acknowledged. */
  onRenewed(sentAt: number): void;
  /** The server at `address` holds every lease (a dependency is down), as of a report sent at `sentAt`. */
  onHeld?(address: string, sentAt: number): void;
}

/**
 * Chunks in flight: the batcher coalesces output beyond it, and a resend after a
 * reconnect (a backlog from a long outage) is paced by it, so the server never sees
 * more than a window of reports queued behind one attempt's write.
 */
export const SEND_WINDOW = 8;

export class AttemptChannel {
  private pipe: AttemptPipe | null = null;
  private unacked: SpooledChunk[] = [];
  /** Bytes in `unacked` (the runner stops reading output past a bound). */
  unackedBytes = 0;
  private ackedSeq = 0;
  /** Highest seq written on the current connection. */
  private sentSeq = 0;
  private startedAcked = false;
  private startedPending = false;
  /** When `started` was last written: its acknowledgement renews the lease (the server writes it with the start). */
  private startedSentAt = 0;
  private final: FinalStatus | null = null;
  private finishWaiters: ((r: FinishResult) => void)[] = [];
  private opened: (() => void) | null = null;
  private ready = false;
  private closed = false;
  private readonly failures = new Backoff(BACKOFF.attemptStream);
  /** Whether `finished` was written on the current connection. */
  private finishedWritten = false;
  private closeResult: FinishResult = "closed";
  private connections = 0;
  /** When each renewal on this connection still unanswered was sent (acks come in order). */
  private renewsSent: number[] = [];
  /** When this connection's `open` was sent: a `retry` answers a report sent at or after it. */
  private openedAt = 0;
  /** Set for an attempt recovered from the spool: even its first open here is a resume. */
  resuming = false;

  constructor(
    private readonly mux: AttemptMux,
    readonly attemptId: string,
    readonly leaseId: string,
    private readonly handlers: ChannelHandlers,
    private readonly log: Logger,
  ) {}

  /** Connect and wait for the server to accept the lease (retries until then or rejection/close). */
  open(): Promise<void> {
    return new Promise((resolve) => {
      this.opened = resolve;
      this.connect();
    });
  }

  get hasRoom(): boolean {
    return this.unacked.length < SEND_WINDOW;
  }

  get persistedSeq(): number {
    return this.ackedSeq;
  }

  started(): void {
    this.startedPending = true;
    if (this.ready) this.writeStarted();
  }

  private writeStarted(): void {
    this.startedSentAt = performance.now();
    this.write({ case: "started", value: {} });
  }

  send(chunk: SpooledChunk): void {
    this.unacked.push(chunk);
    this.unackedBytes += chunk.data.length;
    if (this.ready) this.pump();
  }

  /** Write unacked chunks not yet sent on this connection, while the window has room. */
  private pump(): void {
    for (const c of this.unacked) {
      if (c.seq - this.ackedSeq > SEND_WINDOW) return;
      if (c.seq <= this.sentSeq) continue;
      this.writeChunk(c);
      this.sentSeq = c.seq;
    }
  }

  renew(): void {
    if (!this.ready || !this.pipe) return;
    this.renewsSent.push(performance.now());
    this.write({ case: "renew", value: {} });
  }

  /** The replica this attempt's stream goes to now (null: not connected). */
  get address(): string | null {
    return this.pipe?.address ?? null;
  }

  /** When the oldest renewal still unanswered was sent (null: none waits). */
  get renewPendingSince(): number | null {
    return this.renewsSent[0] ?? null;
  }

  /** Report the end; resolves once the server acknowledged it (or rejected/closed). */
  finish(final: FinalStatus): Promise<FinishResult> {
    if (this.closed) return Promise.resolve(this.closeResult);
    this.final = final;
    if (this.ready && this.unacked.length === 0) this.writeFinished();
    return new Promise((resolve) => this.finishWaiters.push(resolve));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(result: FinishResult = "closed"): void {
    if (this.closed) return;
    this.closed = true;
    this.closeResult = result;
    this.pipe?.close();
    this.pipe = null;
    this.opened?.();
    for (const w of this.finishWaiters.splice(0)) w(result);
  }

  private write(body: ReportBody): void {
    this.pipe?.write(body);
  }

  private writeChunk(c: SpooledChunk): void {
    this.write({ case: "log", value: { seq: BigInt(c.seq), data: c.data, stream: c.stream } });
  }

  private writeFinished(): void {
    if (this.finishedWritten) return;
    this.finishedWritten = true;
    const f = this.final!;
    this.write({
      case: "finished",
      value: {
        exitCode: f.exitCode,
        outcome: f.outcome,
        message: f.message,
        lastLogSeq: BigInt(f.lastLogSeq),
        oomKilled: f.oomKilled,
        outputs: f.outputs && {
          values: f.outputs.values,
          tests: f.outputs.tests,
          image: f.outputs.image && { ...f.outputs.image, sizeBytes: BigInt(f.outputs.image.sizeBytes) },
        },
      },
    });
  }

  private connect(): void {
    if (this.closed) return;
    this.ready = false;
    this.finishedWritten = false;
    let pipe: AttemptPipe;
    try {
      pipe = this.mux.open(this.attemptId, this.leaseId, {
        onCommand: (cmd) => this.onCommand(cmd),
        onBroken: (err) => this.onBroken(pipe, err),
      });
    } catch (err) {
      // The client was closed (agent stopping): nothing more can be sent.
      this.log.warn({ attemptId: this.attemptId, err: (err as Error).message }, "attempt stream cannot be opened");
      this.close("closed");
      return;
    }
    this.pipe = pipe;
    this.sentSeq = this.ackedSeq;
    this.renewsSent = [];
    this.openedAt = performance.now();
    this.write({ case: "open", value: { resume: this.resuming || this.connections > 0 } });
    this.connections++;
    // First connection: the server has persisted nothing yet, so reports are
    // pipelined behind `open` instead of waiting a round trip for its ack
    // (if the lease is refused they are dropped with it). After a reconnect
    // we wait for the ack to learn what to resend.
    if (this.connections === 1) {
      this.ready = true;
      this.resendPending();
    }
  }

  /** Write what the server may not have: started, unacked chunks (a window at a time), then finished. */
  private resendPending(): void {
    if (this.startedPending && !this.startedAcked) this.writeStarted();
    this.pump();
    if (this.final && this.unacked.length === 0) this.writeFinished();
  }

  private onBroken(pipe: AttemptPipe, err: Error | null): void {
    if (this.pipe !== pipe || this.closed) return;
    pipe.close();
    this.pipe = null;
    this.ready = false;
    const delay = this.failures.next();
    this.log.warn(
      { attemptId: this.attemptId, err: err?.message, retryInMs: Math.round(delay) },
      "attempt stream broken; reconnecting",
    );
    setTimeout(() => this.connect(), delay).unref();
  }

  private onCommand(cmd: AttemptCommand): void {
    const body = cmd.body;
    if (body.case === "rejected") {
      this.log.warn(
        { attemptId: this.attemptId, code: body.value.code, message: body.value.message },
        "attempt rejected by server",
      );
      this.handlers.onRejected(body.value.message);
      this.close("rejected");
      return;
    }
    if (body.case === "cancel") {
      this.handlers.onRejected(`canceled: ${body.value.reason}`);
      return;
    }
    if (body.case === "retry") {
      if (body.value.held && this.pipe) this.handlers.onHeld?.(this.pipe.address, this.openedAt);
      if (this.pipe) this.onBroken(this.pipe, new Error(`server asked to retry: ${body.value.message}`));
      return;
    }
    if (body.case !== "ack") return;
    const ack = body.value;
    const seq = Number(ack.logSeq);
    if (seq > this.ackedSeq) this.ackedSeq = seq;
    while (this.unacked.length > 0 && this.unacked[0]!.seq <= this.ackedSeq)
      this.unackedBytes -= this.unacked.shift()!.data.length;
    if (this.sentSeq < this.ackedSeq) this.sentSeq = this.ackedSeq;
    if (ack.started) this.startedAcked = true;
    if (ack.started && ack.leaseExpiresAtMs > 0n) {
      // The start wrote the lease (markStartedTx): the fence's first safe point, without a renewal of its own.
      this.handlers.onRenewed(this.startedSentAt);
    } else if (ack.leaseExpiresAtMs > 0n) {
      const sentAt = this.renewsSent.shift();
      if (sentAt !== undefined) this.handlers.onRenewed(sentAt);
    }
    if (!this.ready) {
      // First ack after (re)open: resend whatever the server has not persisted, and renew
      // at once (the lease may be due after a long outage; see lease/fence.ts).
      this.ready = true;
      this.failures.reset();
      this.opened?.();
      this.opened = null;
      this.resendPending();
      this.renew();
      this.handlers.onRoom();
      return;
    }
    this.opened?.();
    this.opened = null;
    if (ack.finished) {
      this.close("acked");
      return;
    }
    this.pump();
    if (this.final && this.unacked.length === 0) this.writeFinished();
    this.handlers.onRoom();
  }
}
