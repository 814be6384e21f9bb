import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { collect, contractIds, executorContract } from './contract.js';
import { BASE_IMAGE, dockerFromEnv } from './docker-client.js';
import { containerName, DockerExecutor, removeRunWorkspace, workspaceVolumeName } from './docker.js';
import { isExecutorError } from './errors.js';
import type { AttemptSpec } from './types.js';

const SETUP_HINT = 'run: bash scripts/docker/start-dockerd.sh && node --import tsx scripts/docker/build-base-image.ts';

/** Fails (never skips) with a clear message when the engine or the base image is missing. */
async function connect(): Promise<Dockerode> {
  const docker = dockerFromEnv();
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`dockerd does not answer at DOCKER_HOST=${process.env.DOCKER_HOST ?? '(default)'}; ${SETUP_HINT}`, {
      cause: err,
    });
  }
  try {
    await docker.getImage(BASE_IMAGE).inspect();
  } catch (err) {
    throw new Error(`image ${BASE_IMAGE} is missing; ${SETUP_HINT}`, { cause: err });
  }
  return docker;
}

/** Removes containers and workspace volumes a suite left behind (by agent label / run prefix). */
async function sweep(docker: Dockerode, executor: DockerExecutor, agentId: string, runPrefix: string): Promise<void> {
  for (const { attemptId } of await executor.listOwned(agentId)) await executor.reap(attemptId);
  const { Volumes } = await docker.listVolumes({ filters: { name: [`dockyard-ws-${runPrefix}`] } });
  for (const v of Volumes ?? []) await removeRunWorkspace(docker, v.Name.slice('dockyard-ws-'.length));
}

executorContract('docker', async () => {
  const docker = await connect();
  const executor = new DockerExecutor({ docker });
  const { agentId, runPrefix } = contractIds('docker');
  return { executor, image: BASE_IMAGE, cleanup: () => sweep(docker, executor, agentId, runPrefix) };
});

describe('DockerExecutor specifics', { timeout: 60_000 }, () => {
  let docker: Dockerode;
  let executor: DockerExecutor;
  const agentId = `docker-specific-${process.pid}`;
  const runId = `docker-specific-${process.pid}`;
  const spec = (commands: string[], over: Partial<AttemptSpec> = {}): AttemptSpec => ({
    attemptId: randomUUID(),
    runId,
    stageId: 'stage-1',
    stageName: 'build',
    attemptNumber: 2,
    image: BASE_IMAGE,
    commands,
    env: {},
    limits: {},
    agentId,
    ...over,
  });
  const never = new AbortController().signal;

  before(async () => {
    docker = await connect();
    executor = new DockerExecutor({ docker });
  });
  after(async () => {
    if (docker) await sweep(docker, executor, agentId, runId);
  });

  it('reports a missing image as image_missing without pulling', async () => {
    const s = spec(['true'], { image: 'dockyard/not-here:0' });
    await assert.rejects(executor.start(s, never), (err) => {
      assert.ok(isExecutorError(err, 'image_missing'), String(err));
      assert.equal(err.message, "image 'dockyard/not-here:0' not found on this host");
      return true;
    });
    await executor.remove(s);
    await executor.remove(s);
  });

  it('labels the container, applies limits and mounts the run workspace', async () => {
    const s = spec(['true'], { limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 500_000_000, pids: 100 } });
    const handle = await executor.start(s, never);
    try {
      const info = await docker.getContainer(containerName(s.attemptId)).inspect();
      assert.deepEqual(info.Config.Labels, {
        'dockyard.attempt': s.attemptId,
        'dockyard.run': runId,
        'dockyard.stage': 'stage-1',
        'dockyard.agent': agentId,
        'dockyard.attempt-number': '2',
      });
      assert.equal(info.HostConfig.Memory, 64 * 1024 * 1024);
      assert.equal(info.HostConfig.NanoCpus, 500_000_000);
      assert.equal(info.HostConfig.PidsLimit, 100);
      assert.equal(info.Config.WorkingDir, '/workspace');
      assert.equal(info.Config.Tty, false);
      const mount = info.Mounts.find((m) => m.Destination === '/workspace');
      assert.equal(mount?.Name, workspaceVolumeName(runId));
      assert.equal((await collect(handle)).exit.exitCode, 0);
    } finally {
      await executor.remove(s);
    }
  });

  it('defaults the pids limit to 512', async () => {
    const s = spec(['true']);
    const handle = await executor.start(s, never);
    try {
      const info = await docker.getContainer(containerName(s.attemptId)).inspect();
      assert.equal(info.HostConfig.PidsLimit, 512);
      await collect(handle);
    } finally {
      await executor.remove(s);
    }
  });

  it('reports an OOM kill', async () => {
    // A 100 MB shell variable in a 16 MiB container (swap off): the kernel kills it.
    const s = spec(['x=$(head -c 100000000 /dev/zero | tr "\\0" a)', 'echo survived'], {
      limits: { memoryBytes: 16 * 1024 * 1024 },
    });
    try {
      const r = await collect(await executor.start(s, never));
      assert.deepEqual(r.exit, { exitCode: 137, oomKilled: true });
      assert.equal(r.stdout, '');
    } finally {
      await executor.remove(s);
    }
  });

  it('listOwned finds a running attempt and reap stops and removes it', async () => {
    const s = spec(['sleep 30']);
    const handle = await executor.start(s, never);
    const drained = collect(handle);
    assert.deepEqual(await executor.listOwned(agentId), [{ attemptId: s.attemptId, running: true }]);
    await executor.reap(s.attemptId);
    const { exit } = await drained;
    assert.notEqual(exit.exitCode, 0);
    assert.deepEqual(await executor.listOwned(agentId), []);
    await executor.reap(s.attemptId);
  });

  it('replaces a stale container left by an earlier start of the same attempt', async () => {
    const s = spec(['echo again']);
    await collect(await executor.start(s, never));
    const r = await collect(await executor.start(s, never));
    assert.equal(r.stdout, 'again\n');
    await executor.remove(s);
  });

  it('removeWorkspace removes a stage container that outlived its run (a killed agent), then the volume', async () => {
    const deadRun = `${runId}-dead`;
    const s = spec(['echo left > f; sleep 30'], { runId: deadRun, agentId: `${agentId}-dead` });
    const handle = await executor.start(s, never);
    const drained = collect(handle);
    // What a dead agent's supervisor leaves: the container killed, not removed.
    await docker.getContainer(containerName(s.attemptId)).kill({ signal: 'SIGKILL' });
    await drained;
    // An environment's volume carries the run label too, but is not a workspace.
    const envVolume = `${deadRun}-env_data`;
    await docker.createVolume({ Name: envVolume, Labels: { 'dockyard.run': deadRun, 'dockyard.env': deadRun } });
    try {
      assert.deepEqual(
        (await executor.listWorkspaces()).filter((w) => w.runId === deadRun),
        [{ runId: deadRun, agentId: `${agentId}-dead` }],
      );
      // The control: the exited container holds the volume, so removing the volume alone fails.
      await assert.rejects(removeRunWorkspace(docker, deadRun), /cannot remove workspace volume/);
      await executor.removeWorkspace(deadRun);
      await assert.rejects(docker.getContainer(containerName(s.attemptId)).inspect());
      await assert.rejects(docker.getVolume(workspaceVolumeName(deadRun)).inspect());
      assert.deepEqual(
        (await executor.listWorkspaces()).filter((w) => w.runId === deadRun),
        [],
      );
      await docker.getVolume(envVolume).inspect(); // left alone
    } finally {
      await docker
        .getVolume(envVolume)
        .remove()
        .catch(() => undefined);
      await executor.reap(s.attemptId);
      await removeRunWorkspace(docker, deadRun).catch(() => undefined);
    }
  });

  it('removeWorkspace leaves a running stage container of the run to its agent (the volume stays in use)', async () => {
    const busyRun = `${runId}-busy`;
    const s = spec(['sleep 30'], { runId: busyRun, agentId: `${agentId}-busy` });
    const handle = await executor.start(s, never);
    const drained = collect(handle);
    try {
      await assert.rejects(executor.removeWorkspace(busyRun), /cannot remove workspace volume/);
      assert.equal((await docker.getContainer(containerName(s.attemptId)).inspect()).State.Running, true);
    } finally {
      await executor.reap(s.attemptId);
      await drained;
    }
    await executor.removeWorkspace(busyRun);
    await assert.rejects(docker.getVolume(workspaceVolumeName(busyRun)).inspect());
  });

  it('removeRunWorkspace deletes the volume and is idempotent', async () => {
    const ownRun = `${runId}-rm`;
    const s = spec(['echo x > f'], { runId: ownRun });
    await collect(await executor.start(s, never));
    await executor.remove(s);
    await removeRunWorkspace(docker, ownRun);
    await removeRunWorkspace(docker, ownRun);
    await assert.rejects(docker.getVolume(workspaceVolumeName(ownRun)).inspect());
  });
});
