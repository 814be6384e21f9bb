// One gRPC AttemptStream per agent, shared by every attempt it runs: reports
// name their attempt, and the server's commands are routed back by attempt id.
// Opening a stream per attempt (HTTP/2 stream, call stack, credentials) cost
// the agent more CPU than everything else it sent for a short stage.
//
// The stream opens on first use and stays open while the agent lives. When it
// breaks, every attempt on it is told (each reconnects on its own schedule and
// resends what the server did not acknowledge), and the next open starts a new one.
import { create, AttemptReportSchema, type Assignment, type AttemptCommand, type AttemptReport } from "@dockyard/proto";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AgentClient } from "./agent-client";
import { Backoff, BACKOFF } from "../retry";

type Stream = ClientDuplexStream<AttemptReport, AttemptCommand>;
export type ReportBody = NonNullable<MessageInitShape<typeof AttemptReportSchema>["body"]>;

export interface AttemptListener {
  onCommand(cmd: AttemptCommand): void;
  /** The shared stream broke (err null: the server ended it); the attempt must reopen. */
  onBroken(err: Error | null): void;
}

/** One attempt's view of the shared stream. */
export interface AttemptPipe {
  /** The replica the stream goes to. */
  readonly address: string;
  write(body: ReportBody): void;
  /** Stop routing commands to this attempt (the stream itself stays). */
  close(): void;
}

export class AttemptMux {
  private stream: Stream | null = null;
  /** The replica `stream` was opened to. */
  private streamAddress = "";
  private readonly attempts = new Map<string, AttemptListener>();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly failures = new Backoff(BACKOFF.pushStream);

  /**
   * `onAssign` receives attempts the server pushes down the stream (see
   * AttemptCommand.assign). Call `keepOpen` to have the stream open at all times,
   * so pushes can arrive before the first attempt.
   */
  constructor(
    private readonly client: AgentClient,
    private readonly onAssign: (a: Assignment) => void = () => undefined,
  ) {}

  /** Open the stream now and reopen it whenever it breaks (capped backoff), until `close`. */
  keepOpen(): void {
    if (!this.stream && !this.closed) this.connect();
  }

  /** Attach an attempt; throws when the client is closed (the agent is stopping). */
  open(attemptId: string, leaseId: string, listener: AttemptListener): AttemptPipe {
    const stream = this.stream ?? this.connect();
    this.attempts.set(attemptId, listener);
    let open = true;
    return {
      address: this.streamAddress,
      write: (body) => {
        if (open && this.stream === stream) stream.write(create(AttemptReportSchema, { attemptId, leaseId, body }));
      },
      close: () => {
        if (!open) return;
        open = false;
        if (this.attempts.get(attemptId) === listener) this.attempts.delete(attemptId);
      },
    };
  }

  /** End the shared stream (the agent stops; its attempts are over or abandoned). */
  close(): void {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.stream?.end();
    this.stream = null;
  }

  /**
   * The replica at `address` left a renewal unanswered too long (frozen, half dead): move to the
   * next replica and start over there, so a live one keeps the leases. Calls from several
   * attempts about one stall move once.
   */
  failover(address: string): void {
    if (!this.stream || this.streamAddress !== address) return;
    this.client.rotate(address);
    // A single replica: starting over on the same stalled server gains nothing.
    if (this.client.address === address) return;
    this.reset(new Error(`no answer from ${address}; moving to ${this.client.address}`));
  }

  /** Start over on a new stream (a new session after re-registration): every attempt reopens. */
  reset(why = new Error("agent session renewed")): void {
    const stream = this.stream;
    if (!stream) return;
    this.broken(stream, why);
    stream.end();
  }

  private connect(): Stream {
    this.streamAddress = this.client.address;
    const stream = this.client.attemptStream();
    this.stream = stream;
    stream.on("data", (cmd: AttemptCommand) => {
      this.failures.reset();
      if (cmd.body.case === "assign") this.onAssign(cmd.body.value);
      // An abandoned stream (reset, failed over) may still deliver answers to reports the
      // attempts have resent on the current one: they belong to the old conversation.
      else if (this.stream === stream) this.attempts.get(cmd.attemptId)?.onCommand(cmd);
    });
    stream.on("error", (err: Error) => this.broken(stream, err));
    stream.on("end", () => this.broken(stream, null));
    return stream;
  }

  private broken(stream: Stream, err: Error | null): void {
    if (this.stream !== stream) return;
    this.stream = null;
    const listeners = [...this.attempts.values()];
    this.attempts.clear();
    for (const l of listeners) l.onBroken(err);
    if (!this.closed && !this.reconnectTimer) {
      // Reopen for pushes (the attempts reopen on their own schedule, through open()).
      const delay = this.failures.next();
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (!this.stream && !this.closed) this.connect();
      }, delay);
      this.reconnectTimer.unref();
    }
  }
}
