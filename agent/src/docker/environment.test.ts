import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { BASE_IMAGE } from '../executor/docker-client.js';
import { connectEngine, siteDir, template, testLabels, TWO_SERVICES, uniq, WEB_PORT } from './environment-fixtures.js';
import {
  downEnvironment,
  isEnvironmentError,
  listEnvironments,
  reapExpired,
  upEnvironment,
  type Environment,
} from './environment.js';

const suffix = uniq();
let docker: Dockerode;
let seed: string;
const created: string[] = [];

/** Everything on the engine that carries `dockyard.env=<envId>`. */
async function leftovers(envId: string): Promise<string[]> {
  const filters = { label: [`dockyard.env=${envId}`] };
  const [c, n, v] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
  ]);
  return [
    ...c.map((x) => `container ${x.Names[0]}`),
    ...n.map((x) => `network ${x.Name}`),
    ...(v.Volumes ?? []).map((x) => `volume ${x.Name}`),
  ];
}

/** A one-service environment that just runs (no health check), for the reaper. */
function sleeper(envId: string, expiresInMs: number): Promise<Environment> {
  created.push(envId);
  return upEnvironment(docker, {
    envId,
    project: envId,
    template: template({ services: { idle: { image: BASE_IMAGE, command: ['sleep', '3600'] } } }),
    labels: testLabels(`agent-${suffix}`, expiresInMs),
  });
}

before(async () => {
  docker = await connectEngine();
  seed = await siteDir();
});

after(async () => {
  for (const id of created) await downEnvironment(docker, id);
  await rm(seed, { recursive: true, force: true });
});

describe('upEnvironment', () => {
  const envId = `env-two-${suffix}`;
  let env: Environment;
  const lines: string[] = [];

  before(async () => {
    created.push(envId);
    const t0 = Date.now();
    env = await upEnvironment(docker, {
      envId,
      project: envId,
      template: TWO_SERVICES,
      seeds: { site: seed },
      envFiles: { 'client.env': '# from the repo\nMODE=test\nTARGET=overridden-by-environment\n' },
      labels: testLabels(`agent-${suffix}`),
      onLine: (l) => lines.push(l),
      healthTimeoutMs: 30_000,
    });
    lines.push(`(timing) up to healthy: ${Date.now() - t0} ms`);
  });

  it('brings both services up, web healthy before client starts', async (t) => {
    t.diagnostic(lines.join('\n'));
    assert.deepEqual(Object.keys(env.services).sort(), ['client', 'web']);
    assert.equal(env.services.web?.host, 'web');
    assert.match(env.services.web?.ip ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(env.services.web?.ports, [WEB_PORT]);
    const healthyAt = lines.findIndex((l) => l.startsWith('service web: healthy'));
    const clientAt = lines.findIndex((l) => l.startsWith('service client: started'));
    assert.ok(healthyAt >= 0 && clientAt > healthyAt, `web must be healthy before client starts:\n${lines.join('\n')}`);

    const client = await docker.getContainer(env.services.client?.containerId ?? '').inspect();
    assert.ok(client.Config.Env.includes('MODE=test'), 'env_file value reaches the container');
    assert.ok(client.Config.Env.includes(`TARGET=http://web:${WEB_PORT}/`), 'environment overrides env_file');
    assert.equal(client.Config.Labels['com.docker.compose.service'], 'client');
    assert.equal(client.Config.Labels['dockyard.agent'], `agent-${suffix}`);
  });

  it('lists the environment from labels', async () => {
    const mine = (await listEnvironments(docker)).find((e) => e.envId === envId);
    assert.ok(mine, 'listed');
    assert.equal(mine.owner, 'env-test');
    assert.equal(mine.runId, `run-agent-${suffix}`);
    assert.ok(mine.expiresAt && mine.expiresAt.getTime() > Date.now());
    assert.deepEqual(
      mine.services.map((s) => [s.name, s.state, s.health]),
      [
        ['client', 'running', null],
        ['web', 'running', 'healthy'],
      ],
    );
    // What the heartbeat reports of it (dockyard envs): each service's address and the creation time, from labels.
    assert.deepEqual(
      mine.services.map((s) => s.address),
      ['client', `web:${WEB_PORT}`],
    );
    assert.ok(mine.createdAt && Math.abs(mine.createdAt.getTime() - Date.now()) < 5 * 60_000, 'created just now');
    assert.deepEqual(mine.networks, [env.network]);
    assert.deepEqual(mine.volumes, [`${envId}_site`]);
  });

  it('refuses a second up with the same id and leaves the first alone', async () => {
    await assert.rejects(
      upEnvironment(docker, {
        envId,
        project: `${envId}-b`,
        template: TWO_SERVICES,
        envFiles: { 'client.env': '' },
        labels: testLabels('x'),
      }),
      (err) => isEnvironmentError(err, 'conflict'),
    );
    assert.ok((await leftovers(envId)).length >= 4);
  });

  it('downEnvironment removes every container, network and volume, and is idempotent', async (t) => {
    const t0 = Date.now();
    const removed = await downEnvironment(docker, envId);
    t.diagnostic(`(timing) teardown: ${Date.now() - t0} ms`);
    assert.deepEqual(removed, { containers: 2, networks: 1, volumes: 1 });
    assert.deepEqual(await leftovers(envId), []);
    assert.deepEqual(await downEnvironment(docker, envId), { containers: 0, networks: 0, volumes: 0 });
  });
});

describe('reapExpired', () => {
  it('removes an environment whose expiry passed and keeps a live one', async () => {
    const expired = `env-old-${suffix}`;
    const live = `env-new-${suffix}`;
    await Promise.all([sleeper(expired, -60_000), sleeper(live, 10 * 60_000)]);
    const removed = await reapExpired(docker, new Date());
    assert.ok(removed.includes(expired), `reaped: ${removed.join(', ')}`);
    assert.ok(!removed.includes(live));
    assert.deepEqual(await leftovers(expired), []);
    assert.equal((await leftovers(live)).length, 2, 'the live one keeps its container and network');
  });
});

describe('startup failures', () => {
  it('a health check that never passes names the service and shows its log', async () => {
    const envId = `env-sick-${suffix}`;
    created.push(envId);
    const sick = template({
      services: {
        sick: {
          image: BASE_IMAGE,
          command: ['sh', '-c', 'echo warming up forever; exec sleep 3600'],
          healthcheck: { test: ['CMD', 'false'], interval: '100ms', retries: 1 },
        },
      },
    });
    const t0 = Date.now();
    await assert.rejects(
      upEnvironment(docker, { envId, project: envId, template: sick, labels: testLabels('a'), healthTimeoutMs: 1500 }),
      (err) => {
        assert.ok(isEnvironmentError(err, 'unhealthy'), String(err));
        assert.equal(err.service, 'sick');
        assert.match(err.message, /service 'sick' did not become healthy within 1500 ms/);
        assert.match(err.message, /warming up forever/);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 15_000);
    assert.deepEqual(await leftovers(envId), [], 'a failed up removes what it created');
  });

  it('a missing image names the service and creates nothing', async () => {
    const envId = `env-noimg-${suffix}`;
    created.push(envId);
    await assert.rejects(
      upEnvironment(docker, {
        envId,
        project: envId,
        template: TWO_SERVICES,
        images: { client: 'dockyard/no-such-image:0' },
        envFiles: { 'client.env': '' },
        labels: testLabels('a'),
      }),
      (err) => {
        assert.ok(isEnvironmentError(err, 'image_missing'), String(err));
        assert.match(err.message, /service 'client': image 'dockyard\/no-such-image:0' is not on this engine/);
        return true;
      },
    );
    assert.deepEqual(await leftovers(envId), []);
  });

  it('a container that exits during startup names the service with its last output', async () => {
    const envId = `env-exit-${suffix}`;
    created.push(envId);
    const crashing = template({
      services: {
        db: {
          image: BASE_IMAGE,
          command: ['sh', '-c', 'echo cannot open data dir >&2; exit 3'],
          healthcheck: { test: 'true', interval: '100ms' },
        },
        app: { image: BASE_IMAGE, command: ['sleep', '3600'], depends_on: { db: { condition: 'service_healthy' } } },
      },
    });
    await assert.rejects(
      upEnvironment(docker, { envId, project: envId, template: crashing, labels: testLabels('a') }),
      (err) => {
        assert.ok(isEnvironmentError(err, 'exited'), String(err));
        assert.match(err.message, /service 'db' exited with code 3 during startup/);
        assert.match(err.message, /cannot open data dir/);
        return true;
      },
    );
    assert.deepEqual(await leftovers(envId), []);
  });
});
