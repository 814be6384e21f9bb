// The agent's side of the shell spawner (see helper.mjs for why it exists and
// for the protocol). One helper per ShellExecutor, started on first use,
// restarted on the next run if it dies. The helper, its IPC channel and the
// pipes of waiting shells are referenced only while a shell is wanted or
// running, so an idle spawner never keeps the agent alive.
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { fileURLToPath } from "node:url";

const HELPER = fileURLToPath(new URL("./helper.mjs", import.meta.url));

export interface SpawnerOptions {
  /** Private directory for the scripts handed to shells (the helper empties it at start). */
  scriptDir: string;
  /** PATH and HOME of every shell; nothing else of the agent's environment is passed. */
  path: string;
  home: string;
  /** Shells kept started and waiting for a script. */
  warm?: number;
}

export interface ShellExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedShell {
  /** Also its process group id. */
  pid: number;
  stdout: Socket;
  stderr: Socket;
  /** Rejects only when the helper died first, so the exit status is unknown. */
  exited: Promise<ShellExit>;
}

type HelperMessage =
  | { op: "shell"; id: string; pid: number }
  | { op: "stderr"; id: string }
  | { op: "exit"; id: string; code: number | null; signal: NodeJS.Signals | null }
  | { op: "error"; message: string };

interface WaitingShell {
  id: string;
  pid: number;
  stdout: Socket;
  stderr?: Socket;
}

interface Running {
  pid: number;
  resolve(exit: ShellExit): void;
  reject(err: Error): void;
}

interface Waiter {
  resolve(shell: WaitingShell): void;
  reject(err: Error): void;
}

export class ShellSpawner {
  private helper: ChildProcess | null = null;
  /** Shells whose pipes arrived, waiting for a script (the oldest first). */
  private ready: WaitingShell[] = [];
  /** Shells whose stdout arrived but not yet their stderr. */
  private readonly partial = new Map<string, WaitingShell>();
  private readonly waiters: Waiter[] = [];
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: SpawnerOptions) {}

  /** Starts the helper now (so its warm shells are ready before the first stage). */
  warmUp(): void {
    this.ensureHelper();
  }

  /** Runs `script` (a complete sh script) in a fresh shell in its own process group. */
  async run(script: string): Promise<SpawnedShell> {
    const helper = this.ensureHelper();
    const shell = this.ready.shift() ?? (await this.waitForShell(helper));
    const stderr = shell.stderr!;
    const exited = new Promise<ShellExit>((resolve, reject) => this.running.set(shell.id, { pid: shell.pid, resolve, reject }));
    exited.catch(() => undefined); // the caller may never wait
    this.updateRefs();
    shell.stdout.ref();
    stderr.ref();
    helper.send({ op: "run", id: shell.id, script }, (err) => {
      if (err) this.fail(shell.id, new Error(`cannot reach the shell spawner: ${err.message}`));
    });
    return { pid: shell.pid, stdout: shell.stdout, stderr, exited };
  }

  /** Stops the helper and every shell it started (the agent stops after its attempts ended). */
  async close(): Promise<void> {
    const helper = this.helper;
    if (!helper || helper.exitCode !== null || helper.signalCode !== null) return;
    const gone = new Promise((r) => helper.once("exit", r));
    helper.ref(); // keep the loop alive until it is gone
    helper.send({ op: "stop" }, () => helper.disconnect());
    await gone;
  }

  private waitForShell(helper: ChildProcess): Promise<WaitingShell> {
    return new Promise<WaitingShell>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.updateRefs();
      helper.send({ op: "more" }, (err) => {
        if (err) reject(new Error(`cannot reach the shell spawner: ${err.message}`));
      });
    });
  }

  private ensureHelper(): ChildProcess {
    if (this.helper) return this.helper;
    const helper = spawn(process.execPath, [HELPER], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        PATH: this.options.path,
        HOME: this.options.home,
        DOCKYARD_SPAWNER_SCRIPT_DIR: this.options.scriptDir,
        DOCKYARD_SPAWNER_WARM: String(this.options.warm ?? 2),
      },
    });
    helper.on("message", (msg: HelperMessage, handle: unknown) => this.onMessage(msg, handle as Socket | undefined));
    helper.once("exit", (code, signal) => this.onHelperExit(helper, new Error(`the shell spawner exited (${signal ?? `code ${code}`})`)));
    helper.on("error", () => undefined); // reported through "exit" or the send callbacks
    this.helper = helper;
    this.updateRefs();
    return helper;
  }

  private onMessage(msg: HelperMessage, handle: Socket | undefined): void {
    switch (msg.op) {
      case "shell":
        if (!handle) return;
        handle.unref(); // a waiting shell must not keep the agent alive
        this.partial.set(msg.id, { id: msg.id, pid: msg.pid, stdout: handle });
        return;
      case "stderr": {
        const shell = this.partial.get(msg.id);
        if (!shell || !handle) return;
        this.partial.delete(msg.id);
        handle.unref();
        shell.stderr = handle;
        const waiter = this.waiters.shift();
        if (waiter) waiter.resolve(shell);
        else this.ready.push(shell);
        this.updateRefs();
        return;
      }
      case "exit": {
        const running = this.running.get(msg.id);
        if (running) {
          this.running.delete(msg.id);
          this.updateRefs();
          return running.resolve({ code: msg.code, signal: msg.signal });
        }
        // A waiting shell died (killed from outside): drop it from the pool.
        const gone = this.ready.find((s) => s.id === msg.id) ?? this.partial.get(msg.id);
        if (gone) {
          this.ready = this.ready.filter((s) => s !== gone);
          this.partial.delete(msg.id);
          gone.stdout.destroy();
          gone.stderr?.destroy();
        }
        return;
      }
      case "error":
        this.waiters.shift()?.reject(new Error(msg.message));
        this.updateRefs();
        return;
    }
  }

  private onHelperExit(helper: ChildProcess, why: Error): void {
    if (this.helper !== helper) return;
    this.helper = null;
    for (const s of [...this.ready, ...this.partial.values()]) {
      s.stdout.destroy();
      s.stderr?.destroy();
    }
    this.ready = [];
    this.partial.clear();
    for (const w of this.waiters.splice(0)) w.reject(why);
    for (const id of [...this.running.keys()]) this.fail(id, why);
  }

  /** A running shell whose end nobody can report any more: kill it, and its exit is unknown. */
  private fail(id: string, err: Error): void {
    const r = this.running.get(id);
    if (!r) return;
    this.running.delete(id);
    this.updateRefs();
    try {
      process.kill(-r.pid, "SIGKILL");
    } catch {
      // already gone
    }
    r.reject(err);
  }

  private updateRefs(): void {
    const h = this.helper;
    if (!h) return;
    if (this.running.size > 0 || this.waiters.length > 0) {
      h.ref();
      h.channel?.ref();
    } else {
      h.unref();
      h.channel?.unref();
    }
  }
}
