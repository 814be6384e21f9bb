import type Dockerode from 'dockerode';
import { ExecutorError } from './errors.js';
import { demuxDockerStream } from './output.js';
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

/** Where a stage finds the secrets it asked for as files. */
export const SECRETS_DIR = '/run/dockyard/secrets';
/** Where a stage finds its output file ($DOCKYARD_OUTPUT): the attempt's output directory, bind-mounted. */
export const OUTPUT_DIR = '/run/dockyard/output';

export interface DockerExecutorOptions {
  docker: Dockerode;
}

export const WORKSPACE_DIR = '/workspace';
export const DEFAULT_PIDS_LIMIT = 512;
/** Container states in which nothing runs any more (docker ps `State`). */
const STOPPED_STATES = new Set(['created', 'exited', 'dead']);
/** Seconds between SIGTERM and SIGKILL on abort and reap. */
const STOP_GRACE_SECONDS = 2;

export const LABEL = {
  attempt: 'dockyard.attempt',
  run: 'dockyard.run',
  stage: 'dockyard.stage',
  agent: 'dockyard.agent',
  attemptNumber: 'dockyard.attempt-number',
} as const;

export const containerName = (attemptId: string): string => `dockyard-${attemptId}`;
export const workspaceVolumeName = (runId: string): string => `dockyard-ws-${runId}`;

/** Removes the run's shared workspace volume. Idempotent; fails while a container still uses it. */
export async function removeRunWorkspace(docker: Dockerode, runId: string): Promise<void> {
  try {
    await docker.getVolume(workspaceVolumeName(runId)).remove();
  } catch (err) {
    if (statusOf(err) === 404) return;
    throw new ExecutorError('unavailable', `cannot remove workspace volume ${workspaceVolumeName(runId)}`, {
      cause: err,
    });
  }
}

/**
 * Runs each attempt in its own container: `sh -e -c "<commands, one per line>"` under
 * docker-init (so SIGTERM reaches the shell and zombies are reaped), with the run's workspace
 * volume at /workspace. Never pulls: a missing image is `image_missing`.
 */
export class DockerExecutor implements Executor {
  readonly name = 'docker' as const;
  private readonly docker: Dockerode;

  /** The engine this executor drives (the build, deploy and test kinds use it directly). */
  get engine(): Dockerode {
    return this.docker;
  }

  constructor(options: DockerExecutorOptions) {
    this.docker = options.docker;
  }

  async isAvailable(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false; // any failure means "not usable now"; the caller only wants a yes/no
    }
  }

  async start(spec: AttemptSpec, signal: AbortSignal): Promise<ExecutorHandle> {
    if (spec.image === null)
      throw new ExecutorError('image_missing', 'stage has no image; the docker executor needs one');
    const name = containerName(spec.attemptId);
    if (signal.aborted) throw aborted(name);
    const container = await this.create(spec, spec.image);
    let attach: NodeJS.ReadableStream | undefined;
    try {
      // Attach before start, or the first output is lost.
      attach = await container.attach({ stream: true, stdout: true, stderr: true });
      if (signal.aborted) throw aborted(name);
      await container.start();
    } catch (err) {
      (attach as { destroy?: () => void } | undefined)?.destroy?.();
      await this.removeContainer(name).catch(() => undefined); // the start error is the one to report
      throw err instanceof ExecutorError
        ? err
        : new ExecutorError('start_failed', `cannot start container ${name}`, { cause: err });
    }

    const onAbort = (): void => {
      this.stopContainer(name).catch(() => undefined); // gone already, or wait() reports the loss
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();

    const exited = (async (): Promise<AttemptExit> => {
      try {
        const { StatusCode } = (await container.wait()) as { StatusCode: number };
        let oomKilled = false;
        try {
          oomKilled = (await container.inspect()).State.OOMKilled;
          // containerd can report the OOM event after the exit: a SIGKILLed container with a
          // memory limit gets a few more looks before "killed" is taken as not out of memory.
          for (let i = 0; !oomKilled && StatusCode === 137 && spec.limits.memoryBytes && i < 10; i++) {
            await new Promise((r) => setTimeout(r, 50));
            oomKilled = (await container.inspect()).State.OOMKilled;
          }
        } catch (err) {
          if (statusOf(err) !== 404) throw err; // reaped right after exit: no OOM info left
        }
        return { exitCode: StatusCode, oomKilled };
      } catch (err) {
        throw new ExecutorError('wait_failed', `lost track of container ${name}`, { cause: err });
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    })();
    // Observed through wait(); this only keeps an unobserved failure from crashing the process.
    exited.catch(() => undefined);

    return {
      output: demuxDockerStream(attach as AsyncIterable<Buffer>),
      wait: () => exited,
      hold: { container: name },
    };
  }

  async remove(spec: AttemptSpec): Promise<void> {
    await this.removeContainer(containerName(spec.attemptId));
    if (spec.secretFiles?.length) removeSecretFiles(spec.runId, spec.attemptId);
  }

  async listOwned(agentId: string): Promise<{ attemptId: string; running: boolean }[]> {
    const list = await this.list(`${LABEL.agent}=${agentId}`);
    // Environment containers carry the agent label too, but no attempt: they are the reaper's, not ours.
    return list
      .filter((c) => c.Labels[LABEL.attempt])
      .map((c) => ({ attemptId: c.Labels[LABEL.attempt]!, running: c.State === 'running' }));
  }

  async removeWorkspace(runId: string): Promise<void> {
    // A stage container that outlived its run holds the volume: one of a killed agent, which its
    // supervisor stopped but nobody removed. A running one is left to its agent (or supervisor) to
    // stop within its grace: the volume stays in use until then, and the next reconciliation retries.
    for (const c of await this.list(`${LABEL.run}=${runId}`, LABEL.attempt)) {
      if (STOPPED_STATES.has(c.State)) await this.removeContainer(c.Id);
    }
    await removeRunWorkspace(this.docker, runId);
  }

  async listWorkspaces(): Promise<WorkspaceFound[]> {
    let volumes: Dockerode.VolumeInspectInfo[];
    try {
      volumes =
        (await this.docker.listVolumes({ filters: { name: [workspaceVolumeName('')], label: [LABEL.run] } })).Volumes ??
        [];
    } catch (err) {
      throw new ExecutorError('unavailable', 'cannot list workspace volumes', { cause: err });
    }
    // The name check leaves out environments' volumes, which carry the run label too.
    const found: WorkspaceFound[] = [];
    for (const v of volumes) {
      const runId = v.Labels?.[LABEL.run];
      if (runId && v.Name === workspaceVolumeName(runId)) found.push({ runId, agentId: v.Labels[LABEL.agent] || null });
    }
    return found;
  }

  async reap(attemptId: string): Promise<void> {
    for (const c of await this.list(`${LABEL.attempt}=${attemptId}`)) {
      await this.stopContainer(c.Id);
      await this.removeContainer(c.Id);
    }
  }

  private async create(spec: AttemptSpec, image: string, retried = false): Promise<Dockerode.Container> {
    const name = containerName(spec.attemptId);
    const { memoryBytes, nanoCpus, pids } = spec.limits;
    const env = { ...spec.env };
    const extraMounts: Dockerode.MountSettings[] = [];
    if (spec.secretFiles?.length) {
      // Files on the host's tmpfs, bind-mounted read-only: never in a layer, never on disk.
      const dir = writeSecretFiles(spec.runId, spec.attemptId, spec.secretFiles);
      for (const f of spec.secretFiles) env[f.env] = `${SECRETS_DIR}/${f.env}`;
      extraMounts.push({ Type: 'bind', Source: dir, Target: SECRETS_DIR, ReadOnly: true });
    }
    if (spec.outputDir) {
      env.DOCKYARD_OUTPUT = `${OUTPUT_DIR}/${OUTPUT_FILE}`;
      env.DOCKYARD_ARTIFACTS = `${OUTPUT_DIR}/${ARTIFACTS_DIR}`;
      extraMounts.push({ Type: 'bind', Source: spec.outputDir, Target: OUTPUT_DIR, ReadOnly: false });
    }
    try {
      return await this.docker.createContainer({
        name,
        Image: image,
        Cmd: ['sh', '-e', '-c', spec.commands.join('\n')],
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        WorkingDir: WORKSPACE_DIR,
        Labels: labels(spec),
        Tty: false,
        OpenStdin: false,
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          Init: true,
          NetworkMode: 'bridge',
          Memory: memoryBytes,
          MemorySwap: memoryBytes, // same as Memory: no swap, so the limit is real
          NanoCpus: nanoCpus,
          PidsLimit: pids ?? DEFAULT_PIDS_LIMIT,
          Mounts: [
            {
              Type: 'volume',
              Source: workspaceVolumeName(spec.runId),
              Target: WORKSPACE_DIR,
              VolumeOptions: {
                NoCopy: true,
                Labels: { [LABEL.run]: spec.runId, [LABEL.agent]: spec.agentId },
                DriverConfig: { Name: 'local', Options: {} },
              },
            },
            ...extraMounts,
          ],
        },
      });
    } catch (err) {
      if (statusOf(err) === 404)
        throw new ExecutorError('image_missing', `image '${image}' not found on this host`, { cause: err });
      if (statusOf(err) === 409 && !retried) {
        // A container left by an earlier start of this same attempt (agent restart): replace it.
        await this.stopContainer(name);
        await this.removeContainer(name);
        return this.create(spec, image, true);
      }
      throw new ExecutorError('start_failed', `cannot create container ${name}`, { cause: err });
    }
  }

  /** Containers (any state) carrying every one of `labels` (`key` or `key=value`). */
  private async list(...labels: string[]): Promise<Dockerode.ContainerInfo[]> {
    try {
      return await this.docker.listContainers({ all: true, filters: { label: labels } });
    } catch (err) {
      throw new ExecutorError('unavailable', `cannot list containers labelled ${labels.join(', ')}`, { cause: err });
    }
  }

  /** SIGTERM, SIGKILL after the grace; returns once stopped. Missing or stopped is fine. */
  private async stopContainer(idOrName: string): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).stop({ t: STOP_GRACE_SECONDS });
    } catch (err) {
      const status = statusOf(err);
      if (status === 304 || status === 404) return;
      throw new ExecutorError('unavailable', `cannot stop container ${idOrName}`, { cause: err });
    }
  }

  private async removeContainer(idOrName: string): Promise<void> {
    try {
      await this.docker.getContainer(idOrName).remove({ force: true });
    } catch (err) {
      const status = statusOf(err);
      // 409 here means "removal already in progress": another caller is doing our job.
      if (status === 404 || status === 409) return;
      throw new ExecutorError('unavailable', `cannot remove container ${idOrName}`, { cause: err });
    }
  }
}

function labels(spec: AttemptSpec): Record<string, string> {
  return {
    [LABEL.attempt]: spec.attemptId,
    [LABEL.run]: spec.runId,
    [LABEL.stage]: spec.stageId,
    [LABEL.agent]: spec.agentId,
    [LABEL.attemptNumber]: String(spec.attemptNumber),
  };
}

function aborted(name: string): ExecutorError {
  return new ExecutorError('start_failed', `start of ${name} canceled`);
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
