// Reads a run's event stream to the end, reopening it after connection
// failures and resuming after the last seq seen.
import type { RunEvent } from "@dockyard/proto";
import { CliError, isRetryable, isTerminalState, statusName, isGrpcError } from "../errors";
import { Reconnector } from "./reconnect";
import type { ReconnectOptions } from "./reconnect";

/** One open WatchRun stream, as `followRun` needs it. */
export interface EventStream extends AsyncIterable<RunEvent> {
  /** Stops the stream; further errors from it are ignored. */
  cancel(): void;
}

/** What a caller passes to followRun. */
export interface FollowOptions {
  /** Opens WatchRun with this afterSeq; calls `onConnected` when headers arrive. */
  open(afterSeq: bigint, onConnected: () => void): EventStream;
  /** Called for each new event, in seq order, never twice for one seq. */
  onEvent(ev: RunEvent): void;
  /** Called before each reconnect wait (for a "reconnecting" note). */
  onRetry?(info: { attempt: number; delayMs: number; afterSeq: bigint; error: unknown }): void;
  /** Waits; must reject or resolve early when `signal` aborts. */
  sleep?(ms: number, signal?: AbortSignal): Promise<void>;
  /** Stops following: the open stream is cancelled and followRun resolves. */
  signal?: AbortSignal;
  /** Used in the give-up message. */
  server: string;
  reconnect?: ReconnectOptions;
}

/** How following ended. */
export interface FollowResult {
  /** Terminal run state if the stream delivered it; null if it ended without one. */
  finalState: string | null;
  aborted: boolean;
  lastSeq: bigint;
}

/**
 * Follows one run until its terminal RunStatus event, a normal end of the
 * stream (follow=false, or the server closed it), or `signal` aborting.
 * Retryable failures (UNAVAILABLE, INTERNAL, connection reset) reopen the
 * stream with afterSeq = last seq seen; a non-retryable error is thrown as
 * is; 60 s (configurable) without a working stream throws a CliError. A
 * stream that never connected is retried only briefly (5 s), then its own
 * error is thrown (the server is down or the address is wrong).
 */
export async function followRun(options: FollowOptions): Promise<FollowResult> {
  const rec = new Reconnector(options.reconnect);
  const sleep = options.sleep ?? abortableSleep;
  const aborted = () => options.signal?.aborted === true;
  while (!aborted()) {
    const stream = options.open(rec.afterSeq, () => rec.connected());
    const onAbort = () => stream.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const ev of stream) {
        if (!rec.accept(ev.seq)) continue;
        options.onEvent(ev);
        if (ev.body.case === "run" && isTerminalState(ev.body.value.state)) {
          stream.cancel();
          return { finalState: ev.body.value.state, aborted: false, lastSeq: rec.afterSeq };
        }
      }
      return { finalState: null, aborted: aborted(), lastSeq: rec.afterSeq };
    } catch (err) {
      if (aborted()) break;
      if (!isRetryable(err)) throw err;
      const decision = rec.failed();
      if (!decision.retry) {
        // Never connected at all: report it like any other call would.
        if (!decision.everConnected) throw err;
        const why = isGrpcError(err) ? statusName(err.code) : err instanceof Error ? err.message : String(err);
        throw new CliError(
          `lost connection to server at ${options.server} and could not reconnect for ${Math.round(decision.downForMs / 1000)}s (${why}); giving up. The run continues on the server.`,
          1,
          { cause: err },
        );
      }
      options.onRetry?.({
        attempt: decision.attempt,
        delayMs: decision.delayMs,
        afterSeq: decision.afterSeq,
        error: err,
      });
      await sleep(decision.delayMs, options.signal);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }
  return { finalState: null, aborted: true, lastSeq: rec.afterSeq };
}

/** setTimeout as a promise that resolves early when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
