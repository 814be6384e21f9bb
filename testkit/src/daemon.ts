// One daemon a test starts (Prometheus, Alertmanager, the Pushgateway): spawned with its log in a
// file of the test's directory, on a free port, and waited for until its `/-/ready` answers. A
// missing binary, a crash or a daemon that never gets ready fails with the end of its log, so a
// failed start says why instead of timing out later in the test.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import path from "node:path";
import { freePort } from "./free-port";

export interface DaemonOptions {
  /** Names the daemon in messages and its log file (`<dir>/<name>.log`). */
  name: string;
  /** The executable, looked up on PATH. */
  bin: string;
  /** Its arguments for a port (retried on another port when that one was taken meanwhile). */
  args: (port: number) => string[];
  /** Working directory and log directory; leftovers.check.ts finds a daemon left running by it. */
  dir: string;
  /** How long to wait for `/-/ready` (default 20 s). */
  readyTimeoutMs?: number;
}

export interface Daemon {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Daemons still running, killed when the test process exits however it ends. */
const running = new Set<ChildProcess>();
let hooked = false;

function killAllOnExit(): void {
  for (const child of running) child.kill("SIGKILL");
}

/** The last `lines` lines of a log file, for error messages. */
export function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch (err) {
    return `(no log: ${(err as Error).message})`;
  }
}

/**
 * Whether process `pid` holds the socket listening on 127.0.0.1:`port` (from /proc/net/tcp and the process's fds):
 * a ready answer on the port is only ours if it is.
 */
export function listensOn(pid: number, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  let inode: string | undefined;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === "0A") inode = f[9];
  }
  if (!inode) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Starts the daemon and resolves once its `/-/ready` answers 200. */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  if (!hooked) {
    hooked = true;
    process.once("exit", killAllOnExit);
  }
  let lastError: Error | undefined;
  // A port from freePort can still be taken by another test before the daemon binds it.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startOnce(opts, port);
    } catch (err) {
      lastError = err as Error;
      if (!/address already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error(`${opts.name} did not start`);
}

async function startOnce(opts: DaemonOptions, port: number): Promise<Daemon> {
  const logFile = path.join(opts.dir, `${opts.name}.log`);
  const fd = openSync(logFile, "a");
  const child = spawn(opts.bin, opts.args(port), { cwd: opts.dir, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  running.add(child);
  const exited = new Promise<string>((resolve) => {
    child.once("error", (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === "ENOENT"
          ? `${opts.bin} is not installed (bash scripts/setup.sh installs it from Debian)`
          : `${opts.bin} could not start: ${err.message}`,
      ),
    );
    child.once("exit", (code, signal) => resolve(`${opts.name} exited (${signal ?? `code ${code}`})`));
  });
  exited.finally(() => running.delete(child)).catch(() => undefined);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.kill("SIGTERM");
    await exited;
    clearTimeout(timer);
  };

  const timeoutMs = opts.readyTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let ended: string | undefined;
  void exited.then((why) => (ended = why));
  for (;;) {
    if (ended !== undefined) {
      throw new Error(`${ended} before it was ready on ${url}; the end of ${logFile}:\n${logTail(logFile)}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      // Another test's daemon may hold the port and answer; ours then exits with "address already in use".
      if (res.ok && child.pid !== undefined && listensOn(child.pid, port)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${opts.name} was not ready on ${url} within ${timeoutMs} ms; the end of ${logFile}:\n${logTail(logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { name: opts.name, port, url, pid: child.pid!, logFile, stop };
}
