// The agent's side of the shell spawner: a small helper process that starts stage
// shells and sends back all their output over one pipe (the protocol is described in
// agent/native/dy-spawn.c). Why a helper at all: fork() copies the parent's page
// tables, so spawning from the agent (over 100 MB resident) costs its event loop
// milliseconds per stage, more on a slow VM.
//
// Two helpers speak the protocol: the native `dy-spawn` (built by `npm run demo` /
// `npm test` setup, or `pnpm --filter @dockyard/agent build:native`), which starts a
// shell with posix_spawn for a fraction of Node's cost; and `helper.mjs`, plain Node,
// for hosts without a C compiler. DOCKYARD_SPAWNER=node forces the second.
//
// One helper per ShellExecutor, started on first use, restarted on the next run if it
// dies. Its pipes are referenced only while a stage runs, so an idle spawner never
// keeps the agent alive.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { OutputChunk } from '../types.js';
import { Op, Ev, frame, parseFrames } from './frames.mjs';
import { TAG_VAR } from './stage-kill.mjs';

const NODE_HELPER = fileURLToPath(new URL('./helper.mjs', import.meta.url));
export const NATIVE_HELPER = fileURLToPath(new URL('../../../native/build/dy-spawn', import.meta.url));

export type SpawnerKind = 'native' | 'node';

export interface SpawnerOptions {
  /** Private directory for the scripts handed to shells (emptied when a helper starts). */
  scriptDir: string;
  /** PATH and HOME of every shell; nothing else of the agent's environment is passed. */
  path: string;
  home: string;
  /** Which helper; by default the native one when it is built and DOCKYARD_SPAWNER is not `node`. */
  kind?: SpawnerKind;
}

export interface ShellExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedShell {
  /** Also its process group and session id. */
  pid: number;
  /** DOCKYARD_SPAWN_TAG, exported to every process of the stage (see stage-kill.mjs). */
  tag: string;
  /** stdout and stderr in the order the helper read them; ends when both pipes closed. */
  output: AsyncIterable<OutputChunk>;
  /** Rejects only when the helper died first, so the exit status is unknown. */
  exited: Promise<ShellExit>;
}

/** Chunks queued for one stage before the helper is asked to stop reading its pipes. */
const HIGH_WATER = 16;

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

type Helper = ChildProcessByStdio<Writable, Readable, null>;

/** One stage as the client tracks it, from RUN to EXIT. */
class Stage {
  pid = 0;
  readonly queue: OutputChunk[] = [];
  outputDone = false;
  failure: Error | null = null;
  paused = false;
  /** The consumer left the output loop: drop the rest. */
  discard = false;
  wake: (() => void) | null = null;
  resolveExit!: (exit: ShellExit) => void;
  rejectExit!: (err: Error) => void;
  readonly exited = new Promise<ShellExit>((resolve, reject) => {
    this.resolveExit = resolve;
    this.rejectExit = reject;
  });

  constructor(
    readonly id: number,
    readonly tag: string,
    readonly started: { resolve(shell: SpawnedShell): void; reject(err: Error): void },
    private readonly control: (op: Op, id: number) => void,
  ) {
    this.exited.catch(() => undefined); // the caller may never wait
  }

  push(chunk: OutputChunk): void {
    if (this.discard) return;
    this.queue.push(chunk);
    if (this.queue.length >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.control(Op.Pause, this.id);
    }
    this.notify();
  }

  end(failure: Error | null): void {
    this.outputDone = true;
    this.failure = failure;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  async *output(): AsyncGenerator<OutputChunk> {
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next) {
          if (this.paused && this.queue.length === 0) {
            this.paused = false;
            this.control(Op.Resume, this.id);
          }
          yield next;
          continue;
        }
        if (this.failure) throw this.failure;
        if (this.outputDone) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // Left early: the helper keeps reading (so the process never blocks on a full pipe) and we drop it.
      this.discard = true;
      this.queue.length = 0;
      if (this.paused && !this.outputDone) this.control(Op.Resume, this.id);
    }
  }
}

export class ShellSpawner {
  private helper: Helper | null = null;
  private readonly stages = new Map<number, Stage>();
  private nextId = 0;
  private pending: Buffer = Buffer.alloc(0);
  readonly kind: SpawnerKind;

  constructor(private readonly options: SpawnerOptions) {
    this.kind =
      options.kind ?? (process.env.DOCKYARD_SPAWNER !== 'node' && existsSync(NATIVE_HELPER) ? 'native' : 'node');
  }

  /** Starts the helper now, before the first stage needs it. */
  warmUp(): void {
    this.ensureHelper();
  }

  /**
   * Runs `script` (a complete sh script) in a fresh shell in its own session. The script is
   * prefixed with `export DOCKYARD_SPAWN_TAG=<helper pid>.<stage id>`: the helper (and the
   * supervisor) find the stage's processes that left its session by that tag.
   */
  run(script: string): Promise<SpawnedShell> {
    const helper = this.ensureHelper();
    const id = (this.nextId = (this.nextId + 1) >>> 0 || 1);
    const tag = `${helper.pid}.${id}`;
    return new Promise<SpawnedShell>((resolve, reject) => {
      const stage = new Stage(id, tag, { resolve, reject }, (op, sid) => this.send(op, sid));
      this.stages.set(id, stage);
      this.updateRefs();
      helper.stdin.write(frame(Op.Run, id, Buffer.from(`export ${TAG_VAR}=${tag}\n${script}`)));
    });
  }

  /** Stops the helper and every shell it started (the agent stops after its attempts ended). */
  async close(): Promise<void> {
    const helper = this.helper;
    if (!helper || helper.exitCode !== null || helper.signalCode !== null) return;
    const gone = new Promise((r) => helper.once('exit', r));
    helper.ref();
    helper.stdin.end(frame(Op.Stop, 0));
    await gone;
  }

  private send(op: Op, id: number): void {
    this.helper?.stdin.write(frame(op, id));
  }

  private ensureHelper(): Helper {
    if (this.helper) return this.helper;
    // Scripts left by a crashed agent are stale; the directory is private to this agent.
    rmSync(this.options.scriptDir, { recursive: true, force: true });
    mkdirSync(this.options.scriptDir, { recursive: true, mode: 0o700 });
    const [command, args] =
      this.kind === 'native'
        ? [NATIVE_HELPER, [this.options.scriptDir]]
        : [process.execPath, [NODE_HELPER, this.options.scriptDir]];
    const helper = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { PATH: this.options.path, HOME: this.options.home },
    });
    helper.stdout.on('data', (data: Buffer) => this.onData(data));
    helper.stdin.on('error', () => undefined); // a dead helper is reported by "exit"
    helper.once('exit', (code, signal) =>
      this.onHelperExit(helper, new Error(`the shell spawner exited (${signal ?? `code ${code}`})`)),
    );
    helper.on('error', () => undefined); // reported through "exit"
    this.helper = helper;
    this.pending = Buffer.alloc(0);
    this.updateRefs();
    return helper;
  }

  private onData(data: Buffer): void {
    const buf = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    this.pending = parseFrames(buf, (ev, id, body) => this.onFrame(ev, id, body));
  }

  private onFrame(ev: number, id: number, body: Buffer): void {
    const stage = this.stages.get(id);
    if (!stage) return;
    switch (ev) {
      case Ev.Started:
        stage.pid = body.readUInt32BE(0);
        stage.started.resolve({ pid: stage.pid, tag: stage.tag, output: stage.output(), exited: stage.exited });
        return;
      case Ev.Stdout:
      case Ev.Stderr:
        // A copy: `body` is a view into the pipe's buffer, and chunks may be kept (spooled, batched).
        stage.push({ stream: ev === Ev.Stderr ? 'stderr' : 'stdout', data: Buffer.from(body) });
        return;
      case Ev.Exit: {
        this.stages.delete(id);
        this.updateRefs();
        const code = body.readInt32BE(0);
        stage.end(null);
        stage.resolveExit({ code: code < 0 ? null : code, signal: SIGNAL_NAMES.get(body.readInt32BE(4)) ?? null });
        return;
      }
      case Ev.Error:
        this.stages.delete(id);
        this.updateRefs();
        stage.started.reject(new Error(body.toString('utf8')));
        return;
    }
  }

  private onHelperExit(helper: Helper, why: Error): void {
    if (this.helper !== helper) return;
    this.helper = null;
    for (const stage of this.stages.values()) {
      // Nobody can report this stage's end any more: kill it, and its exit is unknown.
      if (stage.pid > 0) {
        try {
          process.kill(-stage.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      stage.started.reject(why);
      stage.end(why);
      stage.rejectExit(why);
    }
    this.stages.clear();
  }

  private updateRefs(): void {
    const h = this.helper;
    if (!h) return;
    if (this.stages.size > 0) {
      h.ref();
      (h.stdout as unknown as { ref(): void }).ref();
    } else {
      h.unref();
      (h.stdout as unknown as { unref(): void }).unref();
    }
  }
}
