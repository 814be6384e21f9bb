// Turns executor output into ordered log chunks. A chunk goes out at once
// while the send window has room (so the first byte is not delayed); when it
// is full, output of the same stream coalesces and is flushed as soon as an
// ack makes room, or after `maxDelayMs` at the latest.

export interface LogBatcherOptions {
  /** Largest chunk sent (bytes). */
  maxChunkBytes: number;
  /** Upper bound on how long output waits before being sent. */
  maxDelayMs: number;
  /** Emit one chunk (assigns its seq, spools and sends it). */
  emit(stream: number, data: Buffer): void;
  /** Whether the send window has room. */
  hasRoom(): boolean;
}

export class LogBatcher {
  private pending: { stream: number; parts: Buffer[]; bytes: number }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: LogBatcherOptions) {}

  /** Bytes waiting to be emitted (for backpressure on the executor). */
  get pendingBytes(): number {
    return this.pending.reduce((n, p) => n + p.bytes, 0);
  }

  push(stream: number, data: Buffer): void {
    if (data.length === 0) return;
    const last = this.pending[this.pending.length - 1];
    if (last && last.stream === stream && last.bytes + data.length <= this.opts.maxChunkBytes) {
      last.parts.push(data);
      last.bytes += data.length;
    } else {
      for (let off = 0; off < data.length; off += this.opts.maxChunkBytes) {
        const piece = data.subarray(off, off + this.opts.maxChunkBytes);
        this.pending.push({ stream, parts: [piece], bytes: piece.length });
      }
    }
    this.onRoom();
    if (this.pending.length > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.opts.maxDelayMs);
    }
  }

  /** Send what the window allows (called after each ack). */
  onRoom(): void {
    while (this.pending.length > 0 && this.opts.hasRoom()) this.emitOne();
    if (this.pending.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Send everything now, window or not. */
  flush(): void {
    while (this.pending.length > 0) this.emitOne();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private emitOne(): void {
    const p = this.pending.shift()!;
    this.opts.emit(p.stream, p.parts.length === 1 ? p.parts[0]! : Buffer.concat(p.parts, p.bytes));
  }
}
