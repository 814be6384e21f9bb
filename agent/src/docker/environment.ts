import type { ComposeService, ComposeTemplate } from '@dockyard/pipeline';
import type Dockerode from 'dockerode';
import { BASE_IMAGE } from '../executor/docker-client.js';
import { engineMessage, logTail, withTail } from './environment-docker.js';
import { EnvironmentError, isEnvironmentError } from './environment-error.js';
import { assertRunning, waitHealthy } from './environment-health.js';
import {
  baseLabels,
  ENV_ID_PATTERN,
  ENV_LABEL,
  networkName,
  PROJECT_PATTERN,
  volumeName,
  type EnvironmentLabels,
} from './environment-labels.js';
import {
  checkImages,
  createService,
  refuseTaken,
  seedVolume,
  serviceEnv,
  settleAll,
  startOrder,
} from './environment-steps.js';
import { downEnvironment } from './environment-manage.js';

export { downEnvironment, listEnvironments, reapExpired, type EnvironmentSummary } from './environment-manage.js';
export { EnvironmentError, isEnvironmentError, type EnvironmentErrorCode } from './environment-error.js';
export { ENV_LABEL, type EnvironmentLabels } from './environment-labels.js';

/** What {@link upEnvironment} needs; `template` comes from `parseComposeTemplate`. */
export interface UpEnvironmentOptions {
  /** Unique id: the `dockyard.env` label that `downEnvironment` and the reaper go by. */
  envId: string;
  /** Compose project name (`[a-z0-9][a-z0-9_-]*`): prefixes container, network and volume names. */
  project: string;
  template: ComposeTemplate;
  /** Image per service name, replacing the template's (e.g. the image this run just built). */
  images?: Record<string, string>;
  /**
   * Host path per top-level volume name: a directory, or a tar file (plain, gzip, bzip2 or xz), copied in before any
   * service starts.
   */
  seeds?: Record<string, string>;
  /** Contents per env_file path, exactly as the template writes the path (the caller reads the files). */
  envFiles?: Record<string, string>;
  labels: EnvironmentLabels;
  /** State lines (`service web: healthy after 1.2 s`), one call a line, without newline. */
  onLine?: (line: string) => void;
  /** Aborting stops the startup and removes what it created (unless `keepOnFailure`). */
  signal?: AbortSignal;
  /** How long each service with a health check may take, from its start, to become healthy. Default 60 s. */
  healthTimeoutMs?: number;
  /** Leave the resources of a failed startup in place (for debugging); `downEnvironment` still removes them. */
  keepOnFailure?: boolean;
  /** Image of the throwaway container that seeds volumes; default the agent's busybox base image. */
  helperImage?: string;
}

/** A running service, as other containers on the environment network reach it. */
export interface EnvironmentService {
  /** Host name on the environment network: the service name (a network alias). */
  host: string;
  ip: string;
  ports: number[];
  containerId: string;
}

/** The result of {@link upEnvironment}. */
export interface Environment {
  envId: string;
  project: string;
  /** Docker network name: pass it to `runTestContainer({ network })`. */
  network: string;
  services: Record<string, EnvironmentService>;
}

/**
 * Brings a Compose-subset template up on dockerode: one user-defined bridge network (its
 * embedded DNS resolves service names), named volumes seeded from `seeds`, then one container
 * per service in depends_on order, each waiting for its `service_healthy` dependencies.
 * Resolves when every container runs and every one with a health check is healthy.
 *
 * Images are checked before anything is created; nothing is pulled. Concurrent calls are fine
 * for different `envId`/`project` values. On any failure (or abort) everything created so far is
 * removed, unless `keepOnFailure`, and an {@link EnvironmentError} names the service with the
 * end of its log. An id already in use is a `conflict` and removes nothing.
 */
export async function upEnvironment(docker: Dockerode, opts: UpEnvironmentOptions): Promise<Environment> {
  const { envId, project, template } = opts;
  const onLine = opts.onLine ?? (() => {});
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  if (!ENV_ID_PATTERN.test(envId)) throw new EnvironmentError('invalid', `invalid environment id '${envId}'`);
  if (!PROJECT_PATTERN.test(project)) {
    throw new EnvironmentError(
      'invalid',
      `invalid project name '${project}': use 1-63 of a-z 0-9 _ - starting with a letter or digit`,
    );
  }
  const order = startOrder(template);
  const envs = Object.fromEntries(
    order.map((name) => [name, serviceEnv(name, template.services[name] as ComposeService, opts.envFiles ?? {})]),
  );
  const images = Object.fromEntries(
    order.map((name) => [name, opts.images?.[name] ?? template.services[name]?.image ?? '']),
  );
  for (const name of Object.keys(opts.seeds ?? {})) {
    if (!template.volumes.includes(name))
      throw new EnvironmentError('invalid', `seed for volume '${name}', which the template does not declare`);
  }
  await checkImages(docker, images, Object.keys(opts.seeds ?? {}).length > 0 ? (opts.helperImage ?? BASE_IMAGE) : null);
  await refuseTaken(docker, envId);

  const labels = baseLabels(envId, project, opts.labels);
  const network = networkName(project);
  const healthTimeoutMs = opts.healthTimeoutMs ?? 60_000;
  const containers = new Map<string, Dockerode.Container>();
  const started = new Map<string, number>();
  const healthy = new Map<string, Promise<void>>();
  const waitFor = (name: string, why: string): Promise<void> => {
    let p = healthy.get(name);
    if (!p) {
      const t = started.get(name) ?? Date.now();
      p = waitHealthy(containers.get(name) as Dockerode.Container, name, {
        deadline: t + healthTimeoutMs,
        timeoutMs: healthTimeoutMs,
        why,
        signal: opts.signal,
      }).then(() => onLine(`service ${name}: healthy after ${((Date.now() - t) / 1000).toFixed(1)} s`));
      healthy.set(name, p);
    }
    return p;
  };

  try {
    await docker.createNetwork({
      Name: network,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { ...labels, [ENV_LABEL.network]: 'default' },
    });
    onLine(`network ${network}: created`);
    for (const vol of template.volumes) {
      // Before any container names it: Docker would otherwise create it on the fly, unlabelled.
      await docker.createVolume({ Name: volumeName(project, vol), Labels: { ...labels, [ENV_LABEL.volume]: vol } });
    }
    onLine(`volumes: ${template.volumes.length} created`);
    // Creating containers is the slow part on vfs (a full layer copy each), so create them all
    // while the volumes are seeded; only the starts follow depends_on order. Containers read a
    // volume only once started, which is after seeding finished.
    await settleAll([
      ...Object.entries(opts.seeds ?? {}).map(async ([vol, seed]) => {
        await seedVolume(docker, {
          volume: volumeName(project, vol),
          source: seed,
          labels,
          image: opts.helperImage ?? BASE_IMAGE,
          name: `${project}-seed-${vol}`,
        });
        onLine(`volume ${vol}: seeded from ${seed}`);
      }),
      ...order.map(async (name) => {
        const svc = template.services[name] as ComposeService;
        containers.set(
          name,
          await createService(docker, {
            project,
            name,
            svc,
            image: images[name] ?? '',
            env: envs[name] ?? [],
            network,
            labels,
          }),
        );
      }),
    ]);
    onLine(`containers: ${order.length} created`);
    for (const name of order) {
      opts.signal?.throwIfAborted();
      const svc = template.services[name] as ComposeService;
      for (const [dep, condition] of Object.entries(svc.dependsOn)) {
        if (condition === 'service_healthy')
          await waitFor(dep, `'${name}' depends on it with condition service_healthy`);
      }
      const container = containers.get(name) as Dockerode.Container;
      try {
        await container.start();
      } catch (err) {
        const tail = await logTail(container);
        throw new EnvironmentError(
          'start_failed',
          withTail(`service '${name}' failed to start: ${engineMessage(err)}`, tail),
          {
            service: name,
            logTail: tail,
            cause: err,
          },
        );
      }
      started.set(name, Date.now());
      onLine(`service ${name}: started (${images[name]})`);
    }
    const services: Record<string, EnvironmentService> = {};
    for (const name of order) {
      const container = containers.get(name) as Dockerode.Container;
      let info = await assertRunning(container, name);
      if (info.State.Health && info.State.Health.Status !== 'none') {
        await waitFor(name, 'it has a healthcheck');
        info = await assertRunning(container, name);
      }
      services[name] = {
        host: name,
        ip: info.NetworkSettings.Networks[network]?.IPAddress ?? '',
        ports: (template.services[name]?.ports ?? []).map((p) => p.port),
        containerId: info.Id,
      };
    }
    onLine(`environment ${envId}: ready in ${since()} (${order.length} service${order.length === 1 ? '' : 's'})`);
    return { envId, project, network, services };
  } catch (err) {
    const failure = asEnvironmentError(err, opts.signal);
    onLine(`environment ${envId}: startup failed after ${since()}: ${failure.message.split('\n')[0]}`);
    if (!opts.keepOnFailure) {
      await downEnvironment(docker, envId).catch((cleanupErr: unknown) => {
        onLine(`environment ${envId}: cleanup after the failure also failed: ${engineMessage(cleanupErr)}`);
      });
    }
    throw failure;
  }
}

function asEnvironmentError(err: unknown, signal?: AbortSignal): EnvironmentError {
  if (isEnvironmentError(err)) return err;
  if (signal?.aborted)
    return new EnvironmentError('aborted', 'environment startup was aborted', { cause: signal.reason ?? err });
  return new EnvironmentError('start_failed', `environment startup failed: ${engineMessage(err)}`, { cause: err });
}
