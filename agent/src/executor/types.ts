/**
 * The Executor contract: how the agent runs one stage attempt somewhere (a container, a host
 * shell). The runner is executor-agnostic; every implementation passes `contract.ts`.
 */

/** One stage attempt. Ids are opaque strings; they end up in container names and labels. */
export interface AttemptSpec {
  attemptId: string;
  runId: string;
  stageId: string;
  stageName: string;
  attemptNumber: number;
  /** Image to run in (docker). `null` means "no image": the shell executor ignores it. */
  image: string | null;
  /** Run in order by `sh` under `set -e`, one per line: the first failing command ends the attempt. */
  commands: string[];
  env: Record<string, string>;
  limits: { memoryBytes?: number; nanoCpus?: number; pids?: number };
  /** Owner label value, so a restarted agent can find and reap what it left behind. */
  agentId: string;
  /**
   * Secrets the stage reads from files: the executor writes them (mode 0400, tmpfs) for
   * the attempt only and sets `env[name]` to the path the stage sees; `remove` deletes them.
   */
  secretFiles?: { env: string; value: Buffer }[];
  /**
   * A host directory holding the stage's output file `OUTPUT_FILE` (command stages): the
   * executor sets `DOCKYARD_OUTPUT` to the file's path as the stage sees it (docker: the
   * directory bind-mounted at OUTPUT_DIR). The caller creates, reads and removes it. It also
   * holds the directory ARTIFACTS_DIR, which the executor names in `DOCKYARD_ARTIFACTS`.
   */
  outputDir?: string;
}

/** A run workspace on the host: its run, and the agent whose label it carries (null: no label, e.g. a directory). */
export interface WorkspaceFound {
  runId: string;
  agentId: string | null;
}

/** The output file's name in `AttemptSpec.outputDir`. */
export const OUTPUT_FILE = 'outputs';
/** The directory in `AttemptSpec.outputDir` whose files are uploaded as the stage's artifacts. */
export const ARTIFACTS_DIR = 'artifacts';

export type OutputStream = 'stdout' | 'stderr';

export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

export interface AttemptExit {
  /** The shell's exit code; 128 + n when killed by signal n (143 = SIGTERM, 137 = SIGKILL). */
  exitCode: number;
  /** The kernel OOM killer hit the attempt (docker only; always false for shell). */
  oomKilled: boolean;
}

/**
 * What the agent's supervisor (supervisor/) stops if the agent dies or freezes while the
 * attempt runs: a container by name, and/or a process group (= session, for shell stages)
 * plus the processes carrying the stage's DOCKYARD_SPAWN_TAG (see spawner/stage-kill.mjs).
 */
export interface AttemptHold {
  container?: string;
  pgid?: number;
  tag?: string;
}

/**
 * A started attempt, returned by `Executor.start`.
 *
 * Consume `output` and await `wait()` concurrently: output is pulled, not buffered, so a
 * process whose output nobody reads blocks on a full pipe (that is the backpressure).
 * `output` can be iterated once; breaking out of the loop early discards the rest but never
 * kills the process.
 */
export interface ExecutorHandle {
  /** Chunks in the order the executor read them; ends when the process/container output ends. */
  readonly output: AsyncIterable<OutputChunk>;
  /**
   * Resolves once the process/container has exited (also after an abort or a reap).
   * May be called many times; returns the same promise. Rejects with ExecutorError
   * `wait_failed` only when the exit status cannot be known (engine gone).
   */
  wait(): Promise<AttemptExit>;
  /** What to stop if the agent dies or freezes before the attempt ends (the runner tells the supervisor). */
  readonly hold?: AttemptHold;
}

/**
 * Runs stage attempts. One instance serves many attempts at once: `start`, `remove`,
 * `listOwned` and `reap` may run concurrently for different attempts.
 *
 * Call order per attempt: `start` → (iterate `output` ‖ `wait`) → `remove`. `remove` is also
 * called after a failed `start`. Attempts of one run share a workspace (a directory or volume
 * keyed by `runId`), so stages of a run see each other's files; the caller removes it when the
 * run is over (`removeRunWorkspace` for docker).
 *
 * Cancellation: aborting the `signal` given to `start` sends SIGTERM, then SIGKILL after a 2 s
 * grace; `wait()` then resolves with the signal's exit code. A signal already aborted when
 * `start` is called (or aborted before the process runs) makes `start` throw `start_failed`.
 */
export interface Executor {
  readonly name: 'docker' | 'shell';
  /** Cheap probe (engine ping, etc.); never throws. */
  isAvailable(): Promise<boolean>;
  /**
   * Starts the attempt and returns as soon as it runs. Throws ExecutorError `image_missing`
   * (the image is not on this host; executors never pull) or `start_failed`.
   */
  start(spec: AttemptSpec, signal: AbortSignal): Promise<ExecutorHandle>;
  /** Frees the attempt's resources (kills it if still running). Idempotent, safe after a failed start. */
  remove(spec: AttemptSpec): Promise<void>;
  /** Attempts this agent still has on the host (docker: containers labelled with its id; shell: []). */
  listOwned(agentId: string): Promise<{ attemptId: string; running: boolean }[]>;
  /** Stops and removes whatever belongs to the attempt (docker: found by label). Idempotent. */
  reap(attemptId: string): Promise<void>;
  /**
   * Delete the run's workspace (its stages are all over, so docker also removes stage containers
   * of the run that outlived it, e.g. a killed agent's); idempotent.
   */
  removeWorkspace(runId: string): Promise<void>;
  /**
   * Run workspaces found on the host (docker: volumes by label, also other agents' on a shared
   * engine; shell: directories), not only those this process made: a restarted agent finds what
   * it left. Throws ExecutorError `unavailable` when the engine does not answer.
   */
  listWorkspaces(): Promise<WorkspaceFound[]>;
  /** Optional: get ready for the first attempt (shell: start the spawner and its warm shells). */
  warmUp?(): void;
  /** Optional: release what the executor holds between attempts; running attempts are left alone. */
  close?(): Promise<void>;
}
