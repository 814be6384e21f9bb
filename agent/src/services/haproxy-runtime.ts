// HAProxy's runtime API over its admin socket: one command per connection (the
// non-interactive mode), answered with text until HAProxy closes. Used to move
// replicas in and out of a running proxy without a reload, so no connection drops.
import net from "node:net";
import { AgentError } from "../errors";

/** How long one command may take (connect, write, read the answer). */
const COMMAND_TIMEOUT_MS = 5000;
/** Answers are small (a stat table of a few servers); more means something is wrong. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** The proxy could not be started or did not do what it was asked (the message says which and why). */
export class HaproxyRuntimeError extends AgentError<"proxy"> {
  override readonly name = "HaproxyRuntimeError";

  constructor(message: string) {
    super("proxy", message);
  }
}

/** A server line of `show stat`: what the proxy routes to and how busy it is. */
export interface ServerStat {
  backend: string;
  server: string;
  /** UP, DOWN, DRAIN, MAINT, no check... as HAProxy prints it. */
  status: string;
  /** Sessions in flight right now (scur). */
  current: number;
  /** Sessions handled since start (stot). */
  total: number;
  addr: string;
}

export class HaproxyRuntime {
  constructor(private readonly socketPath: string) {}

  /** Send one command; resolves with HAProxy's answer (trimmed), or rejects naming the command. */
  command(cmd: string): Promise<string> {
    if (/[\n;]/.test(cmd))
      return Promise.reject(new HaproxyRuntimeError(`one command at a time: ${JSON.stringify(cmd)}`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const sock = net.createConnection(this.socketPath);
      const fail = (why: string) => {
        sock.destroy();
        reject(new HaproxyRuntimeError(`haproxy '${cmd}' at ${this.socketPath}: ${why}`));
      };
      sock.setTimeout(COMMAND_TIMEOUT_MS, () => fail(`no answer within ${COMMAND_TIMEOUT_MS} ms`));
      sock.on("connect", () => sock.end(`${cmd}\n`));
      sock.on("data", (b: Buffer) => {
        size += b.length;
        if (size > MAX_ANSWER_BYTES) return fail(`answer over ${MAX_ANSWER_BYTES} bytes`);
        chunks.push(b);
      });
      sock.on("error", (err) => fail(err.message));
      sock.on("close", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
    });
  }

  /** A command that answers nothing on success: any answer is HAProxy's error message. */
  async expectSilent(cmd: string): Promise<void> {
    const answer = await this.command(cmd);
    if (answer !== "") throw new HaproxyRuntimeError(`haproxy '${cmd}': ${answer}`);
  }

  /** The servers of `backend` (`show stat`, CSV). */
  async servers(backend: string): Promise<ServerStat[]> {
    const csv = await this.command("show stat");
    const [header, ...rows] = csv.split("\n");
    if (!header?.startsWith("# "))
      throw new HaproxyRuntimeError(`haproxy 'show stat': unexpected answer ${JSON.stringify(csv.slice(0, 200))}`);
    const cols = header.slice(2).split(",");
    const at = (name: string) => cols.indexOf(name);
    const [px, sv, st, scur, stot, addr] = ["pxname", "svname", "status", "scur", "stot", "addr"].map(at) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    return rows
      .map((r) => r.split(","))
      .filter((f) => f[px] === backend && f[sv] !== "BACKEND" && f[sv] !== "FRONTEND")
      .map((f) => ({
        backend,
        server: f[sv] ?? "",
        status: f[st] ?? "",
        current: Number(f[scur] ?? 0),
        total: Number(f[stot] ?? 0),
        addr: f[addr] ?? "",
      }));
  }
}
