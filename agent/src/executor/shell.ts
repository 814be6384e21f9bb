import { readdir, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ExecutorError } from './errors.js';
import { ShellSpawner, type ShellExit, type SpawnerKind } from './spawner/client.js';
import {
  OUTPUT_FILE,
  ARTIFACTS_DIR,
  type AttemptExit,
  type AttemptSpec,
  type Executor,
  type ExecutorHandle,
  type WorkspaceFound,
} from './types.js';
import { removeSecretFiles, writeSecretFiles } from '../secrets/secret-files.js';

export interface ShellExecutorOptions {
  /** Base directory; each run works in `<workDir>/<runId>`, shared by its stages. */
  workDir: string;
  /** PATH for the commands (the agent's own environment is not passed through). */
  path?: string;
  /** HOME for the commands; defaults to workDir so tools' caches stay out of the agent's home. */
  home?: string;
  /** Which spawner helper (tests); by default the native one when built (see spawner/client.ts). */
  spawner?: SpawnerKind;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const KILL_GRACE_MS = 2000;
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Removes `<workDir>/<runId>`. Idempotent. */
export async function removeShellRunWorkspace(workDir: string, runId: string): Promise<void> {
  await rm(join(workDir, runId), { recursive: true, force: true });
}

/** `value` as one single-quoted sh word (any bytes but NUL survive). */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * The script a stage's shell runs: close fd 3 (the pipe a waiting shell read the script
 * from, see the native spawner), enter the run's workspace, export the stage env, then the
 * commands under `set -e` (as `sh -e -c` did).
 */
export function stageScript(cwd: string, env: Record<string, string>, commands: string[]): string {
  const lines = ['exec 3<&-', `cd -- ${shellQuote(cwd)} || exit 1`];
  for (const [name, value] of Object.entries(env)) {
    if (!SHELL_NAME.test(name))
      throw new ExecutorError('start_failed', `env name ${JSON.stringify(name)} is not a valid shell variable name`);
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  lines.push('set -e', ...commands, '');
  return lines.join('\n');
}

interface RunningShell {
  pid: number;
  done: boolean;
  exited: Promise<ShellExit>;
  killTimer?: NodeJS.Timeout;
}

/**
 * Runs each attempt as an `sh` script on the host, in its own process group so an abort (or
 * the end of the shell) takes every child with it. No isolation and no limits: meant for
 * trusted builds and benchmarks. Shells come from a small spawner process (see
 * spawner/client.ts), so a stage does not pay a fork of the agent.
 */
export class ShellExecutor implements Executor {
  readonly name = 'shell' as const;
  private readonly workDir: string;
  private readonly spawner: ShellSpawner;
  /** Live attempts, so remove/reap can kill them. */
  private readonly running = new Map<string, RunningShell>();
  /** Run workspaces known to exist (saves a stat per stage). */
  private readonly workspaces = new Set<string>();

  constructor(options: ShellExecutorOptions) {
    this.workDir = options.workDir;
    this.spawner = new ShellSpawner({
      scriptDir: join(options.workDir, '.scripts'),
      path: options.path ?? DEFAULT_PATH,
      home: options.home ?? options.workDir,
      kind: options.spawner,
    });
  }

  async isAvailable(): Promise<boolean> {
    return true;
  }

  /** Which spawner helper starts the shells. */
  get spawnerKind(): SpawnerKind {
    return this.spawner.kind;
  }

  /** Starts the spawner ahead of the first stage. */
  warmUp(): void {
    this.spawner.warmUp();
  }

  async close(): Promise<void> {
    await this.spawner.close();
  }

  async start(spec: AttemptSpec, signal: AbortSignal): Promise<ExecutorHandle> {
    const cwd = join(this.workDir, spec.runId);
    try {
      // Sync: one syscall, where the threadpool round trip of an async mkdir showed up in dispatch latency.
      if (!this.workspaces.has(cwd)) {
        mkdirSync(cwd, { recursive: true });
        this.workspaces.add(cwd);
      }
    } catch (err) {
      throw new ExecutorError('start_failed', `cannot create workspace for run ${spec.runId}`, { cause: err });
    }
    const env = { ...spec.env };
    if (spec.secretFiles?.length) {
      const dir = writeSecretFiles(spec.runId, spec.attemptId, spec.secretFiles);
      for (const f of spec.secretFiles) env[f.env] = join(dir, f.env);
    }
    if (spec.outputDir) {
      env.DOCKYARD_OUTPUT = join(spec.outputDir, OUTPUT_FILE);
      env.DOCKYARD_ARTIFACTS = join(spec.outputDir, ARTIFACTS_DIR);
    }
    const script = stageScript(cwd, env, spec.commands);
    if (signal.aborted) throw new ExecutorError('start_failed', `start of attempt ${spec.attemptId} canceled`);
    let shell;
    try {
      shell = await this.spawner.run(script);
    } catch (cause) {
      throw new ExecutorError(
        'start_failed',
        `cannot start sh for attempt ${spec.attemptId}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const { pid } = shell;
    const entry: RunningShell = { pid, done: false, exited: shell.exited };
    this.running.set(spec.attemptId, entry);

    const onAbort = (): void => this.kill(entry);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });

    const ended = (): void => {
      entry.done = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(entry.killTimer);
      if (this.running.get(spec.attemptId) === entry) this.running.delete(spec.attemptId);
      // The shell's leftovers were killed by the spawner as it reaped the shell (like a
      // container's exit): signalling the group from here, later, could hit a reused id.
    };
    const exited = shell.exited.then(
      ({ code, signal: sig }): AttemptExit => {
        ended();
        return { exitCode: code ?? 128 + (sig ? constants.signals[sig] : 0), oomKilled: false };
      },
      (cause: unknown) => {
        ended();
        throw new ExecutorError('wait_failed', `lost track of attempt ${spec.attemptId}: ${(cause as Error).message}`, {
          cause,
        });
      },
    );
    exited.catch(() => undefined); // reported through wait()

    return { output: shell.output, wait: () => exited, hold: { pgid: pid, tag: shell.tag } };
  }

  async remove(spec: AttemptSpec): Promise<void> {
    await this.reap(spec.attemptId);
    if (spec.secretFiles?.length) removeSecretFiles(spec.runId, spec.attemptId);
  }

  async listOwned(): Promise<{ attemptId: string; running: boolean }[]> {
    return []; // tracked in memory only: after an agent restart there is nothing to find
  }

  async removeWorkspace(runId: string): Promise<void> {
    this.workspaces.delete(join(this.workDir, runId));
    await removeShellRunWorkspace(this.workDir, runId);
  }

  async listWorkspaces(): Promise<WorkspaceFound[]> {
    const entries = await readdir(this.workDir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return []; // no stage ran here yet
      throw new ExecutorError('unavailable', `cannot list workspaces in ${this.workDir}`, { cause: err });
    });
    // Every directory is a run's, but the spawner's `.scripts`.
    return entries
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => ({ runId: e.name, agentId: null }));
  }

  async reap(attemptId: string): Promise<void> {
    const entry = this.running.get(attemptId);
    if (!entry || entry.done) return;
    this.kill(entry);
    await entry.exited.catch(() => undefined);
  }

  /** SIGTERM to the shell's group now, SIGKILL after the grace unless it has exited. */
  private kill(entry: RunningShell): void {
    if (entry.done || entry.killTimer) return;
    if (!signalGroup(entry.pid, 'SIGTERM')) return;
    entry.killTimer = setTimeout(() => {
      if (!entry.done) signalGroup(entry.pid, 'SIGKILL');
    }, KILL_GRACE_MS).unref();
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
