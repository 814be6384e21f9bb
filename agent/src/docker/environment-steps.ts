import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ComposeService, ComposeTemplate } from '@dockyard/pipeline';
import type Dockerode from 'dockerode';
import { pack as packDir } from 'tar-fs';
import { parseEnvFile } from './env-file.js';
import { engineMessage, statusOf } from './environment-docker.js';
import { EnvironmentError } from './environment-error.js';
import { containerName, ENV_LABEL, envFilter, volumeName } from './environment-labels.js';

// The steps of upEnvironment (environment.ts), each one Docker call or check.

/** Services ordered so that each comes after everything it depends on (file order otherwise). */
export function startOrder(template: ComposeTemplate): string[] {
  const order: string[] = [];
  const visit = (name: string, path: string[]) => {
    if (order.includes(name)) return;
    // parseComposeTemplate refuses cycles; a hand-made template could still hold one.
    if (path.includes(name)) throw new EnvironmentError('invalid', `dependency cycle: ${[...path, name].join(' -> ')}`);
    const svc = template.services[name];
    if (!svc) throw new EnvironmentError('invalid', `'${path.at(-1) ?? ''}' depends on unknown service '${name}'`);
    for (const dep of Object.keys(svc.dependsOn)) visit(dep, [...path, name]);
    order.push(name);
  };
  for (const name of Object.keys(template.services)) visit(name, []);
  return order;
}

/** env_file values first (later files win), then `environment`, as Compose merges them. */
export function serviceEnv(name: string, svc: ComposeService, files: Record<string, string>): string[] {
  const env: Record<string, string> = {};
  for (const path of svc.envFiles) {
    const text = files[path];
    if (text === undefined)
      throw new EnvironmentError('invalid', `service '${name}': the contents of env_file '${path}' were not provided`, {
        service: name,
      });
    const parsed = parseEnvFile(text);
    if (!parsed.ok)
      throw new EnvironmentError(
        'invalid',
        `service '${name}': env_file '${path}' line ${parsed.line}: ${parsed.message}`,
        { service: name },
      );
    Object.assign(env, parsed.env);
  }
  Object.assign(env, svc.environment);
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

export async function checkImages(
  docker: Dockerode,
  images: Record<string, string>,
  helper: string | null,
): Promise<void> {
  const wanted: [string, string][] = Object.entries(images);
  if (helper) wanted.push(['(volume seeding)', helper]);
  for (const [service, image] of wanted) {
    try {
      await docker.getImage(image).inspect();
    } catch (err) {
      if (statusOf(err) !== 404)
        throw new EnvironmentError('unavailable', `cannot inspect image '${image}': ${engineMessage(err)}`, {
          cause: err,
        });
      throw new EnvironmentError(
        'image_missing',
        `service '${service}': image '${image}' is not on this engine (environments do not pull images)`,
        {
          service,
          cause: err,
        },
      );
    }
  }
}

export async function refuseTaken(docker: Dockerode, envId: string): Promise<void> {
  const filters = envFilter(envId);
  const [containers, networks, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listNetworks({ filters }),
    docker.listVolumes({ filters }),
  ]);
  const n = containers.length + networks.length + (volumes.Volumes?.length ?? 0);
  if (n > 0)
    throw new EnvironmentError('conflict', `environment id '${envId}' is already in use (${n} resources carry it)`);
}

export async function createService(
  docker: Dockerode,
  a: {
    project: string;
    name: string;
    svc: ComposeService;
    image: string;
    env: string[];
    network: string;
    labels: Record<string, string>;
  },
): Promise<Dockerode.Container> {
  const hc = a.svc.healthcheck;
  const ns = (ms: number | null) => (ms === null ? undefined : Math.round(ms * 1_000_000));
  try {
    return await docker.createContainer({
      name: containerName(a.project, a.name),
      Image: a.image,
      Cmd: a.svc.command ?? undefined,
      Env: a.env,
      Tty: false,
      Labels: {
        ...a.labels,
        [ENV_LABEL.service]: a.name,
        [ENV_LABEL.address]: a.svc.ports[0] ? `${a.name}:${a.svc.ports[0].port}` : a.name,
        'com.docker.compose.container-number': '1',
        'com.docker.compose.oneoff': 'False',
      },
      ExposedPorts: Object.fromEntries(a.svc.ports.map((p) => [`${p.port}/${p.protocol}`, {}])),
      // An empty Test keeps the image's own HEALTHCHECK command while the durations still apply.
      Healthcheck: hc
        ? {
            Test: hc.test ?? [],
            Interval: ns(hc.intervalMs),
            Timeout: ns(hc.timeoutMs),
            Retries: hc.retries ?? undefined,
            StartPeriod: ns(hc.startPeriodMs),
          }
        : undefined,
      HostConfig: {
        NetworkMode: a.network,
        Binds: a.svc.volumes.map((v) => `${volumeName(a.project, v.source)}:${v.target}${v.readOnly ? ':ro' : ''}`),
      },
      NetworkingConfig: { EndpointsConfig: { [a.network]: { Aliases: [a.name] } } },
    });
  } catch (err) {
    throw new EnvironmentError(
      'start_failed',
      `service '${a.name}': cannot create its container: ${engineMessage(err)}`,
      { service: a.name, cause: err },
    );
  }
}

/** Copies a directory or tar file into a volume through a created, never started, helper container. */
export async function seedVolume(
  docker: Dockerode,
  a: { volume: string; source: string; labels: Record<string, string>; image: string; name: string },
): Promise<void> {
  const st = await stat(a.source).catch((err: unknown) => {
    throw new EnvironmentError(
      'invalid',
      `seed '${a.source}' for volume '${a.volume}' cannot be read: ${engineMessage(err)}`,
      { cause: err },
    );
  });
  const helper = await docker.createContainer({
    name: a.name,
    Image: a.image,
    Cmd: ['true'],
    Labels: a.labels,
    HostConfig: { NetworkMode: 'none', Binds: [`${a.volume}:/seed`] },
  });
  try {
    const archive = st.isDirectory() ? packDir(a.source) : createReadStream(a.source);
    await helper.putArchive(archive as unknown as NodeJS.ReadableStream, { path: '/seed' });
  } catch (err) {
    throw new EnvironmentError(
      'invalid',
      `seeding volume '${a.volume}' from '${a.source}' failed: ${engineMessage(err)}`,
      { cause: err },
    );
  } finally {
    await helper.remove({ force: true }).catch(() => {}); // labelled: downEnvironment/reaper removes it if this fails
  }
}

/** Waits for every task (so none is still creating things when cleanup runs), then throws the first failure. */
export async function settleAll(tasks: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
