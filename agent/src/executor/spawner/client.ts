// The agent's side of the shell spawner (see helper.mjs for why it exists and
// for the protocol). One helper per ShellExecutor, started on first use,
// restarted on the next run if it dies. The helper and its IPC channel are
// referenced only while a shell is starting or running, so an idle spawner
// never keeps the agent alive.
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
  | { op: "stdout"; id: string; pid: number }
  | { op: "stderr"; id: string }
  | { op: "exit"; id: string; code: number | null; signal: NodeJS.Signals | null }
  | { op: "failed"; id: string; message: string };

interface Pending {
  pid?: number;
  stdout?: Socket;
  started: boolean;
  resolveStart(pid: number, stdout: Socket, stderr: Socket): void;
  rejectStart(err: Error): void;
  resolveExit(exit: ShellExit): void;
  rejectExit(err: Error): void;
}

export class ShellSpawner {
  private helper: ChildProcess | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 0;

  constructor(private readonly options: SpawnerOptions) {}

  /** Starts the helper now (so its warm shells are ready before the first stage). */
  warmUp(): void {
    this.ensureHelper();
  }

  /** Runs `script` (a complete sh script) in a fresh shell in its own process group. */
  run(script: string): Promise<SpawnedShell> {
    const helper = this.ensureHelper();
    const id = String(++this.nextId);
    return new Promise<SpawnedShell>((resolveStart, rejectStart) => {
      let resolveExit!: (e: ShellExit) => void;
      let rejectExit!: (e: Error) => void;
      const exited = new Promise<ShellExit>((res, rej) => {
        resolveExit = res;
        rejectExit = rej;
      });
      exited.catch(() => undefined); // the caller may never wait (a failed start)
      const pending: Pending = {
        started: false,
        resolveStart: (pid, stdout, stderr) => resolveStart({ pid, stdout, stderr, exited }),
        rejectStart,
        resolveExit,
        rejectExit,
      };
      this.track(id, pending);
      helper.send({ op: "run", id, script }, (err) => {
        if (err) this.settle(id, new Error(`cannot reach the shell spawner: ${err.message}`));
      });
    });
  }

  /** Stops the helper; shells already running are not touched (they belong to their attempts). */
  async close(): Promise<void> {
    const helper = this.helper;
    if (!helper || helper.exitCode !== null || helper.signalCode !== null) return;
    const gone = new Promise((r) => helper.once("exit", r));
    helper.ref(); // keep the loop alive until it is gone
    helper.disconnect();
    await gone;
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
    helper.once("exit", (code, signal) => {
      if (this.helper === helper) this.helper = null;
      const why = new Error(`the shell spawner exited (${signal ?? `code ${code}`})`);
      for (const id of [...this.pending.keys()]) this.settle(id, why);
    });
    helper.on("error", () => undefined); // reported through "exit" or the send callback
    this.helper = helper;
    this.setReferenced(false);
    return helper;
  }

  private onMessage(msg: HelperMessage, handle: Socket | undefined): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    switch (msg.op) {
      case "stdout":
        p.pid = msg.pid;
        p.stdout = handle;
        return;
      case "stderr":
        if (!p.stdout || !handle || p.pid === undefined) return this.settle(msg.id, new Error("the shell spawner sent no output pipes"));
        p.started = true;
        this.helper?.send({ op: "go", id: msg.id }, (err) => {
          if (err) this.settle(msg.id, new Error(`cannot reach the shell spawner: ${err.message}`));
        });
        return p.resolveStart(p.pid, p.stdout, handle);
      case "exit":
        this.untrack(msg.id);
        return p.resolveExit({ code: msg.code, signal: msg.signal });
      case "failed":
        return this.settle(msg.id, new Error(msg.message));
    }
  }

  /** Ends a pending shell with an error: its start fails, or (if started) its exit is unknown. */
  private settle(id: string, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.untrack(id);
    if (!p.started) return p.rejectStart(err);
    if (p.pid !== undefined) {
      try {
        process.kill(-p.pid, "SIGKILL"); // nobody could report its end any more
      } catch {
        // already gone
      }
    }
    p.rejectExit(err);
  }

  private track(id: string, p: Pending): void {
    this.pending.set(id, p);
    if (this.pending.size === 1) this.setReferenced(true);
  }

  private untrack(id: string): void {
    if (this.pending.delete(id) && this.pending.size === 0) this.setReferenced(false);
  }

  private setReferenced(on: boolean): void {
    const h = this.helper;
    if (!h) return;
    if (on) {
      h.ref();
      h.channel?.ref();
    } else {
      h.unref();
      h.channel?.unref();
    }
  }
}
