import type { Readable } from 'node:stream';
import type { OutputChunk, OutputStream } from './types.js';

/**
 * Parses Docker's multiplexed attach stream (Tty false): frames of an 8-byte header
 * (byte 0 = stream: 1 stdout, 2 stderr; bytes 4..7 = big-endian length) and a payload.
 * Pull-based: a frame is read from the socket only when the consumer asks for the next chunk.
 */
export async function* demuxDockerStream(stream: AsyncIterable<Buffer>): AsyncGenerator<OutputChunk> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of stream) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const kind = pending[0];
      const data = pending.subarray(8, 8 + size);
      pending = pending.subarray(8 + size);
      // Kind 0 (stdin) never comes back without a TTY; skip anything unknown.
      if (size > 0 && (kind === 1 || kind === 2)) yield { stream: kind === 2 ? 'stderr' : 'stdout', data };
    }
  }
}

/** Queue length at which both sources are paused until the consumer catches up. */
const HIGH_WATER = 16;

/**
 * Interleaves a process's stdout and stderr pipes in arrival order. Order within each stream
 * is exact; across streams it is as the pipes were read. Listeners are attached at once (not
 * at the first `next()`): Node resumes, and so discards, the pipes of an exited child that
 * nobody listens to. At most HIGH_WATER chunks wait in memory: beyond that the pipes are
 * paused and the writer blocks. If the consumer stops early, the rest is drained and dropped
 * so the process is neither blocked nor killed by SIGPIPE.
 */
export function mergeReadables(sources: [OutputStream, Readable][]): AsyncGenerator<OutputChunk> {
  const queue: OutputChunk[] = [];
  let open = sources.length;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const listeners = sources.map(([name, source]) => {
    const onData = (data: Buffer): void => {
      queue.push({ stream: name, data });
      if (queue.length >= HIGH_WATER) for (const [, s] of sources) s.pause();
      notify();
    };
    let done = false;
    const onEnd = (): void => {
      if (done) return;
      done = true;
      open--;
      notify();
    };
    const onError = (error: unknown): void => {
      failure ??= { error };
      onEnd();
    };
    source.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onError);
    return { source, onData, onEnd, onError };
  });
  return drain();

  async function* drain(): AsyncGenerator<OutputChunk> {
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          if (queue.length === 0) for (const [, s] of sources) s.resume();
          yield next;
          continue;
        }
        if (failure) throw failure.error;
        if (open === 0) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      for (const { source, onData, onEnd, onError } of listeners) {
        source.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
        source.on('error', () => {}); // late pipe errors after the consumer left are not ours to report
        source.resume();
      }
    }
  }
}
