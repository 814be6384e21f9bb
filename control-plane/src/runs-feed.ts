// The runs list, live, for every runs-stream client of this process: one NATS subscription
// (runs changed on any replica) and one poll of the newest runs (what a lost message missed),
// shared by all clients while any are connected. Each changed run is read once and sent to all.
import type { RunView } from "@dockyard/web";

export interface RunsFeedDeps {
  /** The newest `limit` runs. */
  list(limit: number): Promise<RunView[]>;
  get(runId: string): Promise<RunView>;
  /** Calls `onRun` with the id of each run created or changed anywhere; `close` stops it. */
  watch(onRun: (runId: string) => void): { close(): void };
  pollMs: number;
  onError(err: unknown): void;
}

/** How many of the newest runs the poll compares; and how many last-sent views are remembered. */
const POLL_LIMIT = 50;
const REMEMBERED = 2000;
/** Changes within this long are read together. */
const COALESCE_MS = 25;

/** Call `subscribe` per client and its returned function when the client leaves; nothing runs without clients. */
export class RunsFeed {
  private readonly clients = new Set<(run: RunView) => void>();
  private readonly sent = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private sub: { close(): void } | null = null;
  private poll: ReturnType<typeof setInterval> | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private busy: Promise<void> = Promise.resolve();

  constructor(private readonly deps: RunsFeedDeps) {}

  subscribe(onRun: (run: RunView) => void): () => void {
    this.clients.add(onRun);
    if (!this.sub) {
      this.sub = this.deps.watch((id) => {
        this.dirty.add(id);
        this.flushTimer ??= setTimeout(() => this.run(() => this.flushDirty()), COALESCE_MS);
      });
      this.poll = setInterval(() => this.run(() => this.pollNewest()), this.deps.pollMs);
      this.poll.unref();
    }
    return () => {
      this.clients.delete(onRun);
      if (this.clients.size > 0) return;
      this.sub?.close();
      this.sub = null;
      if (this.poll) clearInterval(this.poll);
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.poll = this.flushTimer = null;
      this.sent.clear();
      this.dirty.clear();
    };
  }

  /** One read at a time, so views go out in the order they were read. */
  private run(step: () => Promise<void>): void {
    this.busy = this.busy.then(step).catch((err: unknown) => this.deps.onError(err));
  }

  private async flushDirty(): Promise<void> {
    this.flushTimer = null;
    const ids = [...this.dirty];
    this.dirty.clear();
    for (const id of ids) this.offer(await this.deps.get(id).catch(() => null));
  }

  private async pollNewest(): Promise<void> {
    for (const run of (await this.deps.list(POLL_LIMIT)).reverse()) this.offer(run);
  }

  private offer(run: RunView | null): void {
    if (!run || this.clients.size === 0) return;
    const json = JSON.stringify(run);
    if (this.sent.get(run.id) === json) return;
    this.sent.delete(run.id);
    this.sent.set(run.id, json);
    if (this.sent.size > REMEMBERED) this.sent.delete(this.sent.keys().next().value!);
    for (const c of this.clients) c(run);
  }
}

/**
 * A per-client queue as an async iterable: attached at once (so nothing between this call and the first read is
 * missed), detached when `signal` aborts or the reader stops. The route pulls it as fast as it yields.
 */
export function liveQueue<T>(signal: AbortSignal, attach: (push: (v: T) => void) => () => void): AsyncIterable<T> {
  const queue: T[] = [];
  let wake: (() => void) | null = null;
  const detach = attach((v) => {
    queue.push(v);
    wake?.();
  });
  const stop = () => {
    detach();
    wake?.();
  };
  signal.addEventListener("abort", stop, { once: true });
  return {
    async *[Symbol.asyncIterator]() {
      try {
        while (!signal.aborted) {
          if (queue.length === 0) {
            await new Promise<void>((r) => (wake = r));
            wake = null;
            continue;
          }
          yield queue.shift()!;
        }
      } finally {
        signal.removeEventListener("abort", stop);
        detach();
      }
    },
  };
}
