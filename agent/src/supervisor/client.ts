// The agent's side of its supervisor (supervisor.mjs, which describes the protocol): a
// small process that stops the agent's running stages when the agent dies or freezes,
// before the server gives those stages to another agent.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { AttemptHold } from "../executor/types.js";
import { Backoff, BACKOFF } from "../retry";

const SUPERVISOR = fileURLToPath(new URL("./supervisor.mjs", import.meta.url));

/** What the agent passes when it makes its Supervisor (once, in Agent.start). */
export interface SupervisorOptions {
  /** Where containers are killed (DOCKER_HOST form: unix:///path or tcp://host:port). */
  dockerHost: string;
  log: Logger;
  /** Longest silence before the supervisor stops held attempts (it also uses half their lease TTL). Default 4000. */
  freezeMs?: number;
  /** How often the agent pings. Default 500. */
  pingMs?: number;
}

/** Why the runner reports an attempt that the supervisor stopped. */
export const SUPERVISOR_STOPPED = "the agent froze; its supervisor stopped the stage";

type Child = ChildProcessByStdio<Writable, Readable, null>;

interface Held {
  line: string;
  onKilled: () => void;
}

/**
 * Starts and feeds the supervisor. `start` once, then `hold` when an attempt's process runs
 * and `release` once it ended (both cheap, any number concurrently); `close` on a graceful
 * stop, which makes the supervisor exit without killing anything. A supervisor that dies is
 * started again (holds resent). Never throws; problems are logged. Its process and pipes are
 * unreferenced: it never keeps the agent's process alive.
 */
export class Supervisor {
  private child: Child | null = null;
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  private nextSync = 0;
  private readonly syncs = new Map<number, () => void>();
  private pending = "";
  private readonly restarts = new Backoff(BACKOFF.supervisorRestart);

  constructor(private readonly options: SupervisorOptions) {}

  /** The supervisor's process id while it runs (tests, logs). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child || this.closing) return;
    const args = [SUPERVISOR, this.options.dockerHost, String(this.options.freezeMs ?? 4000), String(process.pid)];
    const child = spawn(process.execPath, args, {
      stdio: ["pipe", "pipe", "inherit"],
      detached: false,
    });
    this.child = child;
    this.pending = "";
    child.stdin.on("error", () => undefined); // a dead supervisor is reported by "exit"
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => this.onData(text));
    child.on("error", (err) => this.options.log.error({ err: err.message }, "supervisor failed to start"));
    child.once("exit", (code, signal) => this.onExit(child, code, signal));
    child.unref();
    (child.stdin as unknown as { unref(): void }).unref();
    (child.stdout as unknown as { unref(): void }).unref();
    this.write({ op: "ping" });
    for (const h of this.held.values()) child.stdin.write(h.line);
    clearInterval(this.timer);
    this.timer = setInterval(() => this.write({ op: "ping" }), this.options.pingMs ?? 500).unref();
  }

  /** The attempt's process runs: stop it if we die or freeze. `onKilled` runs if the supervisor did. */
  hold(attemptId: string, hold: AttemptHold, ttlMs: number, onKilled: () => void): void {
    const line = `${JSON.stringify({ op: "hold", attemptId, ...hold, ttlMs })}\n`;
    this.held.set(attemptId, { line, onKilled });
    this.child?.stdin.write(line);
  }

  /** SIGKILL the attempt's process now (its lease fence ran out): faster than a graceful stop. */
  kill(attemptId: string): void {
    if (this.held.has(attemptId)) this.write({ op: "kill", attemptId });
  }

  /** The attempt ended (or was stopped on purpose): leave it alone. Idempotent. */
  release(attemptId: string): void {
    if (!this.held.delete(attemptId)) return;
    this.write({ op: "release", attemptId });
  }

  /**
   * Resolves once the supervisor has answered everything sent before: any `killed` it sent
   * earlier has been handled by then. Used when a stage died of SIGKILL, to learn whether the
   * supervisor did it while we were frozen. Gives up after `timeoutMs`.
   */
  sync(timeoutMs = 1000): Promise<void> {
    if (!this.child) return Promise.resolve();
    const id = ++this.nextSync;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.syncs.get(id)?.(), timeoutMs);
      this.syncs.set(id, () => {
        clearTimeout(timer);
        this.syncs.delete(id);
        resolve();
      });
      this.write({ op: "sync", id });
    });
  }

  /** Graceful stop: the supervisor forgets every hold and exits. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    const child = this.child;
    this.child = null;
    for (const done of [...this.syncs.values()]) done();
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.stdin.end(`${JSON.stringify({ op: "bye" })}\n`);
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }

  private write(msg: object): void {
    this.child?.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  private onData(text: string): void {
    const lines = (this.pending + text).split("\n");
    this.pending = lines.pop() ?? "";
    for (const line of lines) {
      let msg: { ev?: string; attemptId?: string; id?: number; why?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.options.log.warn({ line: line.slice(0, 200) }, "supervisor said something unreadable");
        continue;
      }
      if (msg.ev === "synced") this.syncs.get(msg.id ?? -1)?.();
      else if (msg.ev === "killed" && msg.attemptId) {
        this.options.log.warn({ attemptId: msg.attemptId, why: msg.why }, "supervisor stopped an attempt");
        const h = this.held.get(msg.attemptId);
        this.held.delete(msg.attemptId);
        h?.onKilled();
      }
    }
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = null;
    for (const done of [...this.syncs.values()]) done();
    if (this.closing) return;
    // Without it, a frozen or killed agent leaves its stages running: start another one.
    const delay = Math.round(this.restarts.next());
    this.options.log.error({ code, signal, restartInMs: delay }, "supervisor exited; starting it again");
    setTimeout(() => this.start(), delay).unref();
  }
}
