import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { ExecutorError } from './errors.js';
import { mergeReadables } from './output.js';
import type { AttemptExit, AttemptSpec, Executor, ExecutorHandle } from './types.js';

export interface ShellExecutorOptions {
  /** Base directory; each run works in `<workDir>/<runId>`, shared by its stages. */
  workDir: string;
  /** PATH for the commands (the agent's own environment is not passed through). */
  path?: string;
  /** HOME for the commands; defaults to workDir so tools' caches stay out of the agent's home. */
  home?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const KILL_GRACE_MS = 2000;

/** Removes `<workDir>/<runId>`. Idempotent. */
export async function removeShellRunWorkspace(workDir: string, runId: string): Promise<void> {
  await rm(join(workDir, runId), { recursive: true, force: true });
}

/**
 * Runs each attempt as `/bin/sh -e -c "<commands>"` on the host, in its own process group so
 * an abort (or the end of the shell) takes every child with it. No isolation and no limits:
 * meant for trusted builds and benchmarks, so start does nothing beyond one mkdir and a spawn.
 */
export class ShellExecutor implements Executor {
  readonly name = 'shell' as const;
  private readonly workDir: string;
  private readonly path: string;
  private readonly home: string;
  /** Live attempts, so remove/reap can kill them. */
  private readonly running = new Map<string, ChildProcess>();
  /** Pending SIGKILLs of aborted attempts; cleared on exit so a reused pid is never hit. */
  private readonly killTimers = new Map<ChildProcess, NodeJS.Timeout>();

  constructor(options: ShellExecutorOptions) {
    this.workDir = options.workDir;
    this.path = options.path ?? DEFAULT_PATH;
    this.home = options.home ?? options.workDir;
  }

  async isAvailable(): Promise<boolean> {
    return true;
  }

  async start(spec: AttemptSpec, signal: AbortSignal): Promise<ExecutorHandle> {
    const cwd = join(this.workDir, spec.runId);
    try {
      // A sync stat first: the threadpool round trip of mkdir showed up in dispatch latency.
      if (!existsSync(cwd)) await mkdir(cwd, { recursive: true });
    } catch (err) {
      throw new ExecutorError('start_failed', `cannot create workspace for run ${spec.runId}`, { cause: err });
    }
    if (signal.aborted) throw new ExecutorError('start_failed', `start of attempt ${spec.attemptId} canceled`);
    const child = spawn('/bin/sh', ['-e', '-c', spec.commands.join('\n')], {
      cwd,
      env: { PATH: this.path, HOME: this.home, ...spec.env },
      detached: true, // own process group: kill(-pid) reaches every descendant
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid === undefined) {
      // spawn failed; Node reports why on the next tick.
      const [cause] = (await once(child, 'error').catch((err: unknown) => [err])) as unknown[];
      throw new ExecutorError('start_failed', `cannot spawn sh for attempt ${spec.attemptId}`, { cause });
    }
    this.running.set(spec.attemptId, child);

    const onAbort = (): void => this.kill(child);
    signal.addEventListener('abort', onAbort, { once: true });

    const exited = new Promise<AttemptExit>((resolve) => {
      child.once('exit', (code, sig) => {
        signal.removeEventListener('abort', onAbort);
        clearTimeout(this.killTimers.get(child));
        this.killTimers.delete(child);
        if (this.running.get(spec.attemptId) === child) this.running.delete(spec.attemptId);
        // The shell is gone: end its leftovers too (a container's exit does the same), so
        // background jobs holding the pipes cannot keep `output` open.
        signalGroup(pid, 'SIGKILL');
        resolve({ exitCode: code ?? 128 + (sig ? constants.signals[sig] : 0), oomKilled: false });
      });
    });

    return {
      output: mergeReadables([
        ['stdout', child.stdout!],
        ['stderr', child.stderr!],
      ]),
      wait: () => exited,
    };
  }

  async remove(spec: AttemptSpec): Promise<void> {
    await this.reap(spec.attemptId);
  }

  async listOwned(): Promise<{ attemptId: string; running: boolean }[]> {
    return []; // tracked in memory only: after an agent restart there is nothing to find
  }

  async removeWorkspace(runId: string): Promise<void> {
    await removeShellRunWorkspace(this.workDir, runId);
  }

  async reap(attemptId: string): Promise<void> {
    const child = this.running.get(attemptId);
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    this.kill(child);
    await exited;
  }

  /** SIGTERM to the child's group now, SIGKILL after the grace unless it has exited. */
  private kill(child: ChildProcess): void {
    const pid = child.pid;
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null || this.killTimers.has(child)) return;
    if (!signalGroup(pid, 'SIGTERM')) return;
    this.killTimers.set(child, setTimeout(() => signalGroup(pid, 'SIGKILL'), KILL_GRACE_MS).unref());
  }
}

/** Returns false when the group no longer exists. */
function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
