// Masks a stage's output streams and passes them on in the order the agent
// read them, across streams. Each stream has its own masker, which may hold
// back a tail that could be the start of a secret until the stream's next
// write; output of the other stream read after that tail waits behind it, so
// masking never moves one stream's bytes past the other's.
import type { SecretMasker, StreamMasker } from "../secrets/masker";

/**
 * Output allowed to wait behind a held tail. Past it the waiting output goes
 * out ahead of the tail: the order gives way, never the masking, and the
 * runner never stops reading (a stage flooding stderr while its stdout holds a
 * tail would otherwise wait on a write that cannot come).
 */
export const MAX_WAITING_BYTES = 1024 * 1024;

type Entry = { stream: number; data: Buffer } | { stream: number; held: true };

/**
 * Orders masked output of several streams. Call `push` for each chunk in the
 * order it was read and `flush` once at the end; not safe to call
 * concurrently. `emit` gets non-empty pieces in read order; a piece that
 * stands for bytes held back keeps the place where those bytes were read.
 * What waits is bounded: at most one held tail per stream and the output read
 * after it (up to MAX_WAITING_BYTES), until that stream writes again or ends.
 */
export class OrderedOutput {
  private readonly maskers = new Map<number, StreamMasker>();
  /** Output not yet emitted, in read order; a `held` entry is a stream's held-back tail. */
  private queue: Entry[] = [];

  constructor(
    private readonly masker: SecretMasker,
    private readonly emit: (stream: number, data: Buffer) => void,
  ) {}

  /** Bytes waiting behind a held tail. */
  get waitingBytes(): number {
    return this.queue.reduce((n, e) => n + ("data" in e ? e.data.length : 0), 0);
  }

  push(stream: number, data: Buffer): void {
    if (!this.masker.active) {
      if (data.length > 0) this.emit(stream, data);
      return;
    }
    const m = this.streamMasker(stream);
    const [held, fresh] = m.pushParts(data);
    const at = this.queue.findIndex((e) => e.stream === stream && "held" in e);
    // The held tail stays where it was read while it still holds (the chunk only grew it).
    if (at !== -1 && (held.length > 0 || fresh.length > 0 || m.holding === 0)) this.queue[at] = { stream, data: held };
    if (fresh.length > 0) this.queue.push({ stream, data: fresh });
    if (m.holding > 0 && !this.queue.some((e) => e.stream === stream && "held" in e))
      this.queue.push({ stream, held: true });
    this.drain();
    if (this.waitingBytes > MAX_WAITING_BYTES) this.drain(true);
  }

  /** The streams ended: emit everything, held tails masked. */
  flush(): void {
    for (const [stream, m] of this.maskers) {
      const at = this.queue.findIndex((e) => e.stream === stream && "held" in e);
      const rest = m.flush();
      if (at !== -1) this.queue[at] = { stream, data: rest };
      else if (rest.length > 0) this.queue.push({ stream, data: rest });
    }
    this.drain();
  }

  private streamMasker(stream: number): StreamMasker {
    let m = this.maskers.get(stream);
    if (!m) this.maskers.set(stream, (m = this.masker.stream()));
    return m;
  }

  /** Emit the output up to the first held tail (`past`: all output, leaving the held tails queued). */
  private drain(past = false): void {
    const kept: Entry[] = [];
    let blocked = false;
    for (const e of this.queue) {
      blocked ||= "held" in e && !past;
      if (blocked || "held" in e) kept.push(e);
      else if (e.data.length > 0) this.emit(e.stream, e.data);
    }
    this.queue = kept;
  }
}
