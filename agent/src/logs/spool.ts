// On-disk spool of the agent's attempts: each one's assignment, every log
// chunk and the final status, kept until the server acknowledges the end.
// After a reconnect or a restart the agent replays what the server has not
// persisted, so an acknowledged line is never lost and a finished stage never
// stays running.
//
// One append-only journal file per agent, not a directory per attempt: a stage
// then costs a few appends instead of about twenty file-system calls (mkdir,
// three files written, unlink, rmdir...), which were a quarter of the agent's
// busy time in the dispatch benchmark. The file is truncated whenever no
// attempt is open and rewritten without finished attempts when it grows large.
// Writes are plain (no fsync): this survives a crash of the agent process, not
// of the machine.
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from "node:fs";
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
  /** What a successful stage reported (kept with the final status, so a replay sends it too). */
  outputs?: ReportedOutputs;
}

/** A stage's outputs in JSON-safe form (see StageOutputs in the proto). */
export interface ReportedOutputs {
  values: Record<string, string>;
  image?: { ref: string; id: string; digest: string; sizeBytes: number; layers: number };
  tests?: { passed: number; failed: number; skipped: number; errors: number; total: number };
}

export interface SpoolMeta {
  attemptId: string;
  leaseId: string;
  stageName: string;
  runId: string;
  /** Whether `started` was reported. */
  started?: boolean;
}

export interface SpoolContents {
  meta: SpoolMeta;
  chunks: SpooledChunk[];
  final: FinalStatus | null;
}

/** Largest spool per attempt; beyond it output is dropped with a notice (see runner). */
export const MAX_SPOOL_BYTES = 256 * 1024 * 1024;
/** Journal size that triggers a rewrite without the finished attempts. */
const COMPACT_BYTES = 64 * 1024 * 1024;
const FILE = "journal.bin";

// Record: u32 length of the rest | u8 kind | u8 id length | id | payload.
const KIND = { meta: 1, chunk: 2, started: 3, final: 4, done: 5 } as const;
const CHUNK_HEADER = 9; // f64 seq, u8 stream

/** One record; the payload may come in parts (a chunk's header and its data), copied once. */
function record(kind: number, attemptId: string, ...payload: Buffer[]): Buffer {
  const id = Buffer.from(attemptId, "utf8");
  if (id.length > 255) throw new Error(`attempt id too long for the spool: ${attemptId}`);
  const head = Buffer.allocUnsafe(6 + id.length);
  head.writeUInt32LE(2 + id.length + payload.reduce((n, b) => n + b.length, 0), 0);
  head.writeUInt8(kind, 4);
  head.writeUInt8(id.length, 5);
  id.copy(head, 6);
  return Buffer.concat([head, ...payload]);
}

function chunkHeader(chunk: SpooledChunk): Buffer {
  const head = Buffer.allocUnsafe(CHUNK_HEADER);
  head.writeDoubleLE(chunk.seq, 0);
  head.writeUInt8(chunk.stream, 8);
  return head;
}

interface RawRecord {
  kind: number;
  attemptId: string;
  payload: Buffer;
  bytes: Buffer;
}

/** Records of a journal; a torn last record (crash mid-write) ends the list. */
function* records(buf: Buffer): Generator<RawRecord> {
  for (let off = 0; off + 6 <= buf.length;) {
    const len = buf.readUInt32LE(off);
    const idLen = buf.readUInt8(off + 5);
    if (len < 2 + idLen || off + 4 + len > buf.length) return;
    const attemptId = buf.toString("utf8", off + 6, off + 6 + idLen);
    yield {
      kind: buf.readUInt8(off + 4),
      attemptId,
      payload: buf.subarray(off + 6 + idLen, off + 4 + len),
      bytes: buf.subarray(off, off + 4 + len),
    };
    off += 4 + len;
  }
}

/** What a journal holds for attempts that are not done, in the order they began. */
function parse(buf: Buffer): { contents: SpoolContents[]; liveRecords: Buffer[] } {
  const open = new Map<string, SpoolContents & { records: Buffer[] }>();
  for (const r of records(buf)) {
    if (r.kind === KIND.meta) {
      try {
        open.set(r.attemptId, {
          meta: JSON.parse(r.payload.toString("utf8")) as SpoolMeta,
          chunks: [],
          final: null,
          records: [r.bytes],
        });
      } catch {
        // unreadable metadata: the attempt cannot be replayed
      }
      continue;
    }
    const entry = open.get(r.attemptId);
    if (!entry) continue;
    if (r.kind === KIND.done) {
      open.delete(r.attemptId);
      continue;
    }
    entry.records.push(r.bytes);
    if (r.kind === KIND.chunk && r.payload.length >= CHUNK_HEADER) {
      entry.chunks.push({
        seq: r.payload.readDoubleLE(0),
        stream: r.payload.readUInt8(8),
        data: Buffer.from(r.payload.subarray(CHUNK_HEADER)),
      });
    } else if (r.kind === KIND.started) {
      entry.meta.started = true;
    } else if (r.kind === KIND.final) {
      try {
        entry.final = JSON.parse(r.payload.toString("utf8")) as FinalStatus;
      } catch {
        // a torn final status: replayed as if the agent had stopped mid-attempt
      }
    }
  }
  const entries = [...open.values()];
  return {
    contents: entries.map(({ meta, chunks, final }) => ({ meta, chunks, final })),
    liveRecords: entries.flatMap((e) => e.records),
  };
}

/** Read the spooled attempts under `root` that are not done (for replay and for tests). */
export function readSpools(root: string): SpoolContents[] {
  const file = path.join(root, FILE);
  return existsSync(file) ? parse(readFileSync(file)).contents : [];
}

export class SpoolJournal {
  private fd: number;
  private size = 0;
  /** Attempts begun (or recovered) and not done: they keep the journal from being truncated. */
  private readonly open = new Set<string>();

  private constructor(
    private readonly file: string,
    private readonly pending: SpoolContents[],
    size: number,
  ) {
    for (const c of pending) this.open.add(c.meta.attemptId);
    this.fd = openSync(file, "a");
    this.size = size;
  }

  /** Opens the journal in `root`, keeping only the attempts that are not done. */
  static open(root: string): SpoolJournal {
    mkdirSync(root, { recursive: true });
    const file = path.join(root, FILE);
    const { contents, liveRecords } = existsSync(file) ? parse(readFileSync(file)) : { contents: [], liveRecords: [] };
    rewrite(file, liveRecords);
    return new SpoolJournal(
      file,
      contents,
      liveRecords.reduce((n, b) => n + b.length, 0),
    );
  }

  /** Attempts found unfinished when the journal was opened (to replay). */
  recovered(): SpoolContents[] {
    return this.pending;
  }

  begin(meta: SpoolMeta): AttemptSpool {
    this.open.add(meta.attemptId);
    this.write(record(KIND.meta, meta.attemptId, Buffer.from(JSON.stringify(meta))));
    return new AttemptSpool(this, meta.attemptId);
  }

  /** @internal used by AttemptSpool */
  write(buf: Buffer): void {
    if (this.fd < 0) return; // closed: the agent stopped while an attempt was still going
    writeSync(this.fd, buf);
    this.size += buf.length;
  }

  /** The attempt is over for good (acknowledged, or refused as stale): forget it. */
  done(attemptId: string): void {
    if (!this.open.delete(attemptId) || this.fd < 0) return;
    if (this.open.size === 0) {
      // The common case between bursts: nothing left to keep.
      ftruncateSync(this.fd, 0);
      this.size = 0;
      return;
    }
    this.write(record(KIND.done, attemptId));
    if (this.size > COMPACT_BYTES) this.compact();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Rewrite the journal with the open attempts' records only. */
  private compact(): void {
    const { liveRecords } = parse(readFileSync(this.file));
    closeSync(this.fd);
    rewrite(this.file, liveRecords);
    this.fd = openSync(this.file, "a");
    this.size = liveRecords.reduce((n, b) => n + b.length, 0);
  }
}

function rewrite(file: string, liveRecords: Buffer[]): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, Buffer.concat(liveRecords));
  renameSync(tmp, file);
}

/** One attempt's part of the journal. */
export class AttemptSpool {
  bytes = 0;

  constructor(
    private readonly journal: SpoolJournal,
    readonly attemptId: string,
  ) {}

  append(chunk: SpooledChunk): void {
    this.journal.write(record(KIND.chunk, this.attemptId, chunkHeader(chunk), chunk.data));
    this.bytes += CHUNK_HEADER + chunk.data.length;
  }

  markStarted(): void {
    this.journal.write(record(KIND.started, this.attemptId));
  }

  writeFinal(final: FinalStatus): void {
    this.journal.write(record(KIND.final, this.attemptId, Buffer.from(JSON.stringify(final))));
  }

  /** The server acknowledged the end, or rejected the lease: the records are no longer needed. */
  remove(): void {
    this.journal.done(this.attemptId);
  }

  /** The agent stops before the end was acknowledged: keep the records for the next start. */
  close(): void {}
}
