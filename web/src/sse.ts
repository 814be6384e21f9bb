// One Server-Sent Events response with a bounded buffer. What the client has not read yet
// waits in the stream's queue, counted in bytes; @hono/node-server reads the queue only as
// fast as the socket drains, so `send` answering false means this client is too slow and the
// caller stops (and tells it where to resume). Heartbeat comments keep proxies from closing
// a quiet stream.
const encoder = new TextEncoder();

export interface SseOptions {
  /** Bytes a client may have unread before events are dropped (then `gap`); an empty queue still takes one event. */
  bufferBytes: number;
  /** A `: heartbeat` comment this often. */
  heartbeatMs: number;
  /** The reconnect delay sent to EventSource clients (`retry:`). */
  retryMs?: number;
}

export interface SseEvent {
  id?: number;
  event: string;
  data: unknown;
}

/** Wire forms by data object: the event many clients of one run are sent is encoded once. */
const encoded = new WeakMap<object, Uint8Array>();

/**
 * The wire form of one event: `id`, `event` and a single `data` line (JSON never holds a raw newline). Cached by
 * `data` when it is an object: a data object must always go out with the same id and event name.
 */
export function encodeEvent(e: SseEvent): Uint8Array {
  const key = typeof e.data === "object" && e.data !== null ? e.data : null;
  const cached = key && encoded.get(key);
  if (cached) return cached;
  const id = e.id === undefined ? "" : `id: ${e.id}\n`;
  const bytes = encoder.encode(`${id}event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  if (key) encoded.set(key, bytes);
  return bytes;
}

/**
 * Call order: construct, `send` or `offer` any number of times (false: it did not fit, nothing was queued), `close`
 * once; one producer at a time. `signal` aborts when the client goes away or `close` is called: producers stop on it.
 */
export class SseStream {
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly abort = new AbortController();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  /** `signal.aborted`, read several times per event per client: a plain field (the getter's checks showed in profiles). */
  private ended = false;

  constructor(private readonly opts: SseOptions) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        cancel: () => this.close(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: opts.bufferBytes }),
    );
    this.heartbeat = setInterval(() => this.write(encoder.encode(": heartbeat\n\n")), opts.heartbeatMs);
    this.heartbeat.unref();
    this.write(encoder.encode(`retry: ${opts.retryMs ?? 1000}\n\n`));
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Bytes queued for the client and not yet taken by the socket. */
  get buffered(): number {
    return this.opts.bufferBytes - (this.controller.desiredSize ?? 0);
  }

  send(e: SseEvent): boolean {
    return this.write(encodeEvent(e));
  }

  /** `send`, or when it does not fit, wait up to `waitMs` for the client to read; false: it is too slow. */
  async offer(e: SseEvent, waitMs: number): Promise<boolean> {
    const bytes = encodeEvent(e);
    if (this.write(bytes)) return true;
    return (await this.waitForRoom(bytes.byteLength, waitMs)) && this.write(bytes);
  }

  /** Waits (polling) until `bytes` fit or `timeoutMs` passes; false when they still do not (or the client left). */
  async waitForRoom(bytes: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const fits = () => this.buffered === 0 || this.buffered + bytes <= this.opts.bufferBytes;
    while (!this.closed && !fits() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return !this.closed && fits();
  }

  close(): void {
    if (this.closed) return;
    this.ended = true;
    this.abort.abort();
    clearInterval(this.heartbeat);
    try {
      this.controller.close();
    } catch {
      // already closed or canceled by the client: nothing left to end
    }
  }

  private write(bytes: Uint8Array): boolean {
    // An empty queue takes any one event (a log chunk may be larger than a small buffer): at most bufferBytes plus one.
    if (this.closed || (this.buffered > 0 && this.buffered + bytes.byteLength > this.opts.bufferBytes)) return false;
    this.controller.enqueue(bytes);
    return true;
  }
}
