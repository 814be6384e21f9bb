// Turns the engine's `moby.buildkit.trace` messages (base64 moby.buildkit.v1.StatusResponse)
// into plain log lines in the shape of `docker buildx build --progress=plain`:
//   #7 [build 2/4] RUN make
//   #7 0.412 compiling…        (the step's own output; no timestamp column here)
//   #7 DONE 1.3s
//   #8 CACHED [build 3/4] COPY . .
//   #9 ERROR [build 4/4] RUN exit 3: process "/bin/sh -c exit 3" did not complete…
// dockerode's followProgress also decodes the trace, but prints digests instead of step
// numbers, loses which step a log line came from, and needs protobufjs at run time.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

interface Vertex {
  digest: string;
  name: string;
  cached: boolean;
  started?: number; // ms since epoch
  completed?: number;
  error: string;
}
interface VertexLog {
  vertex: string;
  msg: Uint8Array;
}
export interface StatusResponse {
  vertexes: Vertex[];
  logs: VertexLog[];
}

/** Decodes one StatusResponse (fields: vertexes = 1, statuses = 2, logs = 3; statuses are progress bars, skipped). */
export function decodeStatus(buf: Uint8Array): StatusResponse {
  const out: StatusResponse = { vertexes: [], logs: [] };
  for (const [no, r] of fields(buf)) {
    if (no === 1) out.vertexes.push(decodeVertex(r.bytes()));
    else if (no === 3) out.logs.push(decodeLog(r.bytes()));
  }
  return out;
}

// Vertex: digest 1, inputs 2, name 3, cached 4, started 5, completed 6, error 7.
function decodeVertex(buf: Uint8Array): Vertex {
  const v: Vertex = { digest: '', name: '', cached: false, error: '' };
  for (const [no, r] of fields(buf)) {
    if (no === 1) v.digest = r.string();
    else if (no === 3) v.name = r.string();
    else if (no === 4) v.cached = r.bool();
    else if (no === 5) v.started = decodeTimestamp(r.bytes());
    else if (no === 6) v.completed = decodeTimestamp(r.bytes());
    else if (no === 7) v.error = r.string();
  }
  return v;
}

// VertexLog: vertex 1, timestamp 2, stream 3, msg 4.
function decodeLog(buf: Uint8Array): VertexLog {
  const l: VertexLog = { vertex: '', msg: new Uint8Array() };
  for (const [no, r] of fields(buf)) {
    if (no === 1) l.vertex = r.string();
    else if (no === 4) l.msg = r.bytes();
  }
  return l;
}

// google.protobuf.Timestamp: seconds 1, nanos 2.
function decodeTimestamp(buf: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (const [no, r] of fields(buf)) {
    if (no === 1) s = Number(r.int64());
    else if (no === 2) n = r.int32();
  }
  return s * 1000 + n / 1e6;
}

// Yields each field's number with the reader positioned on its value; the caller reads or skips it.
function* fields(buf: Uint8Array): Generator<[number, BinaryReader, WireType]> {
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const before = r.pos;
    yield [no, r, wt];
    if (r.pos === before) r.skip(wt); // caller ignored the field
  }
}

interface VertexState {
  n: number;
  name: string;
  announced: boolean;
  finished: boolean;
  partial: string;
}

/**
 * Stateful formatter for one build: feed every trace message in order; it numbers steps by
 * first appearance, prints each step once when it starts and once when it ends, and buffers
 * a step's output until a full line is there. Also remembers the first failed step, which the
 * error mapping uses. Not safe for concurrent use (one instance per build).
 */
export class TraceFormatter {
  private readonly vertices = new Map<string, VertexState>();
  private next = 1;
  /** Name of the first step that reported an error, with BuildKit's error for it. */
  failed?: { name: string; error: string };

  constructor(private readonly emit: (line: string) => void) {}

  push(status: StatusResponse): void {
    for (const v of status.vertexes) this.vertex(v);
    for (const l of status.logs) this.log(l);
  }

  /** Flushes partial output lines (call once at the end of the build). */
  end(): void {
    for (const s of this.vertices.values()) this.flush(s);
  }

  private state(digest: string, name: string): VertexState {
    let s = this.vertices.get(digest);
    if (!s) {
      s = { n: this.next++, name, announced: false, finished: false, partial: '' };
      this.vertices.set(digest, s);
    }
    if (name) s.name = name;
    return s;
  }

  private vertex(v: Vertex): void {
    const s = this.state(v.digest, v.name);
    if (s.finished) return;
    if (v.cached && v.completed !== undefined) {
      s.finished = true;
      this.emit(`#${s.n} CACHED ${s.name}`);
      return;
    }
    if (v.started !== undefined && !s.announced) {
      s.announced = true;
      this.emit(`#${s.n} ${s.name}`);
    }
    if (v.error) {
      s.finished = true;
      this.flush(s);
      this.emit(`#${s.n} ERROR ${s.name}: ${v.error}`);
      // "context canceled" errors of sibling steps follow a real failure; keep the first.
      this.failed ??= { name: s.name, error: v.error };
      return;
    }
    if (v.completed !== undefined) {
      s.finished = true;
      this.flush(s);
      const secs = v.started !== undefined ? ((v.completed - v.started) / 1000).toFixed(1) : '0.0';
      this.emit(`#${s.n} DONE ${secs}s`);
    }
  }

  private log(l: VertexLog): void {
    const s = this.state(l.vertex, '');
    const text = s.partial + Buffer.from(l.msg).toString('utf8');
    const lines = text.split('\n');
    s.partial = lines.pop() ?? '';
    for (const line of lines) this.line(s, line);
  }

  private flush(s: VertexState): void {
    if (s.partial) this.line(s, s.partial);
    s.partial = '';
  }

  private line(s: VertexState, raw: string): void {
    // A progress bar rewrites its line with \r: only the last state is worth a log line.
    const line = raw.split('\r').filter(Boolean).pop() ?? '';
    this.emit(`#${s.n} ${line.trimEnd()}`);
  }
}
