// A Server-Sent Events client over node:http for tests and the web bench: parses events as
// they arrive, counts heartbeat comments and bytes, and can stop reading (pause) to act as
// a slow client whose socket fills up.
import http from "node:http";

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
  /** When the client parsed it (performance.now()). */
  at: number;
}

export interface SseConnection {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body of a non-200 answer (read whole). */
  body: string;
  events: SseMessage[];
  comments: number;
  bytes: number;
  ended: Promise<void>;
  onEvent: ((e: SseMessage) => void) | null;
  pause(): void;
  resume(): void;
  close(): void;
}

export interface SseOpenOptions {
  token?: string | null;
  lastEventId?: string | null;
  /** Start paused: nothing is read from the socket until resume(). */
  paused?: boolean;
  /** false: only count bytes (a load client in a benchmark); default true. */
  parse?: boolean;
}

export function openSse(url: string, opts: SseOpenOptions = {}): Promise<SseConnection> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.lastEventId) headers["last-event-id"] = opts.lastEventId;
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      const conn: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: "",
        events: [],
        comments: 0,
        bytes: 0,
        ended,
        onEvent: null,
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
      };
      let buf = "";
      // A load client only counts bytes: no decoding (it would cost the benchmark's own CPU).
      if (opts.parse !== false || conn.status !== 200) res.setEncoding("utf8");
      res.on("data", (chunk: string | Buffer) => {
        if (opts.parse === false && conn.status === 200) {
          conn.bytes += chunk.length;
          return;
        }
        if (typeof chunk !== "string") return;
        conn.bytes += Buffer.byteLength(chunk);
        if (conn.status !== 200) {
          conn.body += chunk;
          return;
        }
        if (opts.parse === false) return;
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const msg: SseMessage = { id: null, event: "message", data: "", at: performance.now() };
          let isEvent = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) conn.comments++;
            else if (line.startsWith("id: ")) msg.id = line.slice(4);
            else if (line.startsWith("event: ")) msg.event = line.slice(7);
            else if (line.startsWith("data: ")) {
              msg.data = line.slice(6);
              isEvent = true;
            }
          }
          if (isEvent) {
            conn.events.push(msg);
            conn.onEvent?.(msg);
          }
        }
      });
      res.on("end", endedResolve);
      res.on("close", endedResolve);
      res.on("error", endedResolve);
      if (opts.paused) res.pause();
      resolve(conn);
    });
    req.on("error", reject);
  });
}
