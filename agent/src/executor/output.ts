import type { OutputChunk } from './types.js';

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
