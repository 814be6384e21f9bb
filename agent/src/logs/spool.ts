// On-disk spool of one attempt: its assignment, every log chunk and the final
// status, kept until the server acknowledges the end. After a reconnect or a
// restart the agent replays what the server has not persisted, so an
// acknowledged line is never lost and a finished stage never stays running.
// Writes are plain (no fsync): this survives a crash of the agent process,
// not of the machine.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";

export interface SpooledChunk {
  seq: number;
  stream: number;
  data: Buffer;
}

export interface FinalStatus {
  exitCode: number;
  outcome: string;
  message: string;
  lastLogSeq: number;
  oomKilled: boolean;
}

export interface SpoolMeta {
  attemptId: string;
  leaseId: string;
  stageName: string;
  runId: string;
  /** Whether `started` was reported. */
  started?: boolean;
}

const HEADER = 13; // u32 length of data, f64 seq, u8 stream

/** Largest spool per attempt; beyond it output is dropped with a notice (see runner). */
export const MAX_SPOOL_BYTES = 256 * 1024 * 1024;

export class AttemptSpool {
  private fd: number;
  bytes = 0;

  private constructor(readonly dir: string, readonly meta: SpoolMeta) {
    this.fd = openSync(path.join(dir, "chunks.bin"), "a");
  }

  static create(root: string, meta: SpoolMeta): AttemptSpool {
    const dir = path.join(root, meta.attemptId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "meta.json"), JSON.stringify(meta));
    return new AttemptSpool(dir, meta);
  }

  append(chunk: SpooledChunk): void {
    const header = Buffer.alloc(HEADER);
    header.writeUInt32LE(chunk.data.length, 0);
    header.writeDoubleLE(chunk.seq, 4);
    header.writeUInt8(chunk.stream, 12);
    writeSync(this.fd, Buffer.concat([header, chunk.data]));
    this.bytes += HEADER + chunk.data.length;
  }

  markStarted(): void {
    this.meta.started = true;
    writeFileSync(path.join(this.dir, "meta.json"), JSON.stringify(this.meta));
  }

  writeFinal(final: FinalStatus): void {
    writeFileSync(path.join(this.dir, "final.json"), JSON.stringify(final));
  }

  /** Delete the spool (the server acknowledged the end, or rejected the lease). */
  remove(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface SpoolContents {
  dir: string;
  meta: SpoolMeta;
  chunks: SpooledChunk[];
  final: FinalStatus | null;
}

/** Read every spooled attempt under `root`; a torn last record (crash mid-write) is ignored. */
export function readSpools(root: string): SpoolContents[] {
  if (!existsSync(root)) return [];
  const out: SpoolContents[] = [];
  for (const name of readdirSync(root)) {
    const dir = path.join(root, name);
    try {
      const meta = JSON.parse(readFileSync(path.join(dir, "meta.json"), "utf8")) as SpoolMeta;
      const finalPath = path.join(dir, "final.json");
      const final = existsSync(finalPath) ? (JSON.parse(readFileSync(finalPath, "utf8")) as FinalStatus) : null;
      const buf = existsSync(path.join(dir, "chunks.bin")) ? readFileSync(path.join(dir, "chunks.bin")) : Buffer.alloc(0);
      const chunks: SpooledChunk[] = [];
      for (let off = 0; off + HEADER <= buf.length;) {
        const len = buf.readUInt32LE(off);
        if (off + HEADER + len > buf.length) break;
        chunks.push({ seq: buf.readDoubleLE(off + 4), stream: buf.readUInt8(off + 12), data: buf.subarray(off + HEADER, off + HEADER + len) });
        off += HEADER + len;
      }
      out.push({ dir, meta, chunks, final });
    } catch {
      // A spool without readable metadata cannot be replayed; drop it.
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
