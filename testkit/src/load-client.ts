// A client that keeps polling one URL while something changes behind it (a proxy switching
// replicas, a service update): half its loops reuse keep-alive connections, half open a
// fresh one per request, so both ways a real client can be hurt are exercised. It counts
// each answer's body and keeps every failure (a non-2xx status or a connection error) with
// its message, so a test can assert "no request failed" and show which ones did.
import http from "node:http";

export interface LoadClientOptions {
  /** Concurrent loops; even ones keep connections alive, odd ones open one per request (default 8). */
  loops?: number;
  /** Pause of each loop between two requests: the polling rate (default 5 ms). */
  intervalMs?: number;
  /** One request's limit (default 5000 ms). */
  timeoutMs?: number;
}

export class LoadClient {
  /** Answers per body (trimmed). */
  readonly bodies = new Map<string, number>();
  /** When each body was first and last answered (epoch ms): "no old body after the switch". */
  readonly firstSeen = new Map<string, number>();
  readonly lastSeen = new Map<string, number>();
  /** Every failed request's message, in order. */
  readonly failures: string[] = [];
  /** Bodies seen since mark(). */
  sinceMark = new Map<string, number>();
  private stopped = false;
  private readonly running: Promise<void>[] = [];
  private readonly keepAlive: http.Agent;
  private readonly loops: number;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly url: string,
    options: LoadClientOptions = {},
  ) {
    this.loops = options.loops ?? 8;
    this.intervalMs = options.intervalMs ?? 5;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.keepAlive = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, Math.ceil(this.loops / 2)) });
  }

  start(): void {
    for (let i = 0; i < this.loops; i++) this.running.push(this.loop(i % 2 === 0 ? this.keepAlive : false));
  }

  /** Answers with a 2xx status so far. */
  get ok(): number {
    return [...this.bodies.values()].reduce((a, b) => a + b, 0);
  }

  mark(): void {
    this.sinceMark = new Map();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.keepAlive.destroy();
  }

  private async loop(agent: http.Agent | false): Promise<void> {
    while (!this.stopped) {
      try {
        const body = await getBody(this.url, agent, this.timeoutMs);
        const now = Date.now();
        this.bodies.set(body, (this.bodies.get(body) ?? 0) + 1);
        this.sinceMark.set(body, (this.sinceMark.get(body) ?? 0) + 1);
        if (!this.firstSeen.has(body)) this.firstSeen.set(body, now);
        this.lastSeen.set(body, now);
      } catch (err) {
        this.failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }
}

/** GET `url`; resolves with the trimmed body of a 2xx answer, rejects naming the status or the error. */
export function getBody(url: string, agent: http.Agent | false = false, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(body.trim());
        else reject(new Error(`status ${status}`));
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}
