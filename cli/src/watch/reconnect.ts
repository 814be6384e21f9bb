// Resume-and-backoff bookkeeping for WatchRun streams, free of I/O and timers
// so it can be tested with injected time and randomness.
import { Backoff } from "@dockyard/proto";

/** What a caller passes to Reconnector; every field has a default. */
export interface ReconnectOptions {
  /** First retry delay before jitter. */
  initialDelayMs?: number;
  /** Cap on the delay before jitter. */
  maxDelayMs?: number;
  /** Give up when no reconnect has succeeded for this long. */
  giveUpAfterMs?: number;
  /** Shorter limit while no stream has ever connected (server down or wrong address). */
  firstConnectGiveUpAfterMs?: number;
  /** Milliseconds clock; Date.now by default. */
  now?: () => number;
  /** Uniform [0, 1); Math.random by default. */
  random?: () => number;
}

/** The validated form of ReconnectOptions. */
export type ReconnectConfig = Required<ReconnectOptions>;

/** What to do after a stream failed. */
export type RetryDecision =
  | { retry: true; delayMs: number; afterSeq: bigint; attempt: number }
  | { retry: false; downForMs: number; everConnected: boolean };

/**
 * Tracks the last RunEvent seq seen and the failure streak of one watch.
 * Call order per stream: `afterSeq` for the request, then `accept(seq)` per
 * event (and `connected()` when headers arrive), and `failed()` when the
 * stream breaks with a retryable error. Backoff is the CLI's policy (retry.ts:
 * capped exponential with "equal jitter", half fixed, half random), and never
 * sleeps past the give-up time, so the last try happens at that time.
 */
export class Reconnector {
  readonly config: ReconnectConfig;
  private seq = 0n;
  private failures = 0;
  private readonly backoff: Backoff;
  private failingSince: number | null = null;
  private everConnected = false;

  constructor(options: ReconnectOptions = {}, startAfterSeq = 0n) {
    this.config = {
      initialDelayMs: options.initialDelayMs ?? 250,
      maxDelayMs: options.maxDelayMs ?? 5_000,
      giveUpAfterMs: options.giveUpAfterMs ?? 60_000,
      firstConnectGiveUpAfterMs: options.firstConnectGiveUpAfterMs ?? 5_000,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    };
    this.seq = startAfterSeq;
    this.backoff = new Backoff(
      { initialMs: this.config.initialDelayMs, maxMs: this.config.maxDelayMs },
      this.config.random,
    );
  }

  /** afterSeq for the next WatchRun request: the last seq seen. */
  get afterSeq(): bigint {
    return this.seq;
  }

  /**
   * Records an event. Returns false for a seq already seen (a replay after
   * resuming), which the caller must skip. Any event proves the stream works.
   */
  accept(seq: bigint): boolean {
    this.connected();
    if (seq <= this.seq) return false;
    this.seq = seq;
    return true;
  }

  /** The stream is up (headers or an event arrived): the failure streak ends. */
  connected(): void {
    this.everConnected = true;
    this.failures = 0;
    this.backoff.reset();
    this.failingSince = null;
  }

  /** The current stream broke: wait `delayMs` and resume, or give up. */
  failed(): RetryDecision {
    const now = this.config.now();
    this.failingSince ??= now;
    const down = now - this.failingSince;
    const limit = this.everConnected ? this.config.giveUpAfterMs : this.config.firstConnectGiveUpAfterMs;
    const left = limit - down;
    if (left <= 0) return { retry: false, downForMs: down, everConnected: this.everConnected };
    const jittered = this.backoff.next();
    this.failures++;
    return { retry: true, delayMs: Math.round(Math.min(jittered, left)), afterSeq: this.seq, attempt: this.failures };
  }
}
