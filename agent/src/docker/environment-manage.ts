import type Dockerode from 'dockerode';
import { engineMessage, statusOf } from './environment-docker.js';
import { EnvironmentError } from './environment-error.js';
import { ENV_LABEL, envFilter } from './environment-labels.js';

/** One environment as the engine shows it, from labels alone. */
export interface EnvironmentSummary {
  envId: string;
  project: string;
  owner: string;
  runId: string;
  agentId: string;
  /** `null` when the label is missing or unreadable: such an environment is never reaped. */
  expiresAt: Date | null;
  /** When its first container was created; `null` for an environment left without containers. */
  createdAt: Date | null;
  /** The stage that started it; '' when unlabelled. */
  stage: string;
  keepOnFailure: boolean;
  services: {
    name: string;
    address: string;
    containerId: string;
    state: string;
    health: 'healthy' | 'unhealthy' | 'starting' | null;
  }[];
  networks: string[];
  volumes: string[];
}

/** What {@link downEnvironment} removed. */
export interface DownResult {
  containers: number;
  networks: number;
  volumes: number;
}

const gone = (err: unknown) => statusOf(err) === 404;

/**
 * Removes every container (forcefully), network and volume labelled `dockyard.env=<envId>`.
 * Idempotent: an unknown or already removed id gives zeros. Containers not labelled with the id
 * but still attached to its network (a test container) are disconnected first. Tries every
 * resource, then throws one `unavailable` EnvironmentError naming those the engine refused.
 */
export async function downEnvironment(docker: Dockerode, envId: string): Promise<DownResult> {
  const filters = envFilter(envId);
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>): Promise<number> => {
    try {
      await fn();
      return 1;
    } catch (err) {
      if (gone(err)) return 0;
      // 409 "removal already in progress": another down (or the reaper) is on it.
      if (statusOf(err) === 409 && /already in progress/.test(engineMessage(err))) return 0;
      failures.push(`${what}: ${engineMessage(err)}`);
      return 0;
    }
  };
  const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);

  const containers = await listOrThrow(() => docker.listContainers({ all: true, filters }));
  const removedContainers = sum(
    await Promise.all(
      containers.map((c) =>
        attempt(`container ${c.Names[0] ?? c.Id}`, () => docker.getContainer(c.Id).remove({ force: true })),
      ),
    ),
  );
  const networks = await listOrThrow(() => docker.listNetworks({ filters }));
  const removedNetworks = sum(
    await Promise.all(
      networks.map((n) =>
        attempt(`network ${n.Name}`, async () => {
          const net = docker.getNetwork(n.Id);
          const info = (await net.inspect()) as { Containers?: Record<string, unknown> };
          for (const id of Object.keys(info.Containers ?? {})) {
            await net.disconnect({ Container: id, Force: true }).catch((err: unknown) => {
              if (!gone(err)) throw err;
            });
          }
          await net.remove();
        }),
      ),
    ),
  );
  const volumes = (await listOrThrow(() => docker.listVolumes({ filters }))).Volumes ?? [];
  const removedVolumes = sum(
    await Promise.all(volumes.map((v) => attempt(`volume ${v.Name}`, () => docker.getVolume(v.Name).remove()))),
  );
  if (failures.length > 0) {
    throw new EnvironmentError(
      'unavailable',
      `removing environment '${envId}' left ${failures.length} resource(s): ${failures.join('; ')}`,
    );
  }
  return { containers: removedContainers, networks: removedNetworks, volumes: removedVolumes };
}

/** Every environment on the engine, grouped by `dockyard.env`, sorted by id. */
export async function listEnvironments(docker: Dockerode): Promise<EnvironmentSummary[]> {
  const filters = envFilter();
  const [containers, networks, volumes] = await Promise.all([
    listOrThrow(() => docker.listContainers({ all: true, filters })),
    listOrThrow(() => docker.listNetworks({ filters })),
    listOrThrow(() => docker.listVolumes({ filters })),
  ]);
  const envs = new Map<string, EnvironmentSummary>();
  const entry = (labels: Record<string, string> | undefined | null): EnvironmentSummary | null => {
    const id = labels?.[ENV_LABEL.env];
    if (!labels || !id) return null;
    let env = envs.get(id);
    if (!env) {
      env = {
        envId: id,
        project: labels[ENV_LABEL.project] ?? '',
        owner: labels[ENV_LABEL.owner] ?? '',
        runId: labels[ENV_LABEL.run] ?? '',
        agentId: labels[ENV_LABEL.agent] ?? '',
        expiresAt: null,
        createdAt: null,
        stage: labels[ENV_LABEL.stage] ?? '',
        keepOnFailure: labels[ENV_LABEL.keepOnFailure] === 'true',
        services: [],
        networks: [],
        volumes: [],
      };
      envs.set(id, env);
    }
    // Resources of one environment share the label; should they differ, the earliest expiry wins.
    const ms = Number(labels[ENV_LABEL.expiresAt]);
    if (labels[ENV_LABEL.expiresAt] && Number.isFinite(ms) && (env.expiresAt === null || ms < env.expiresAt.getTime()))
      env.expiresAt = new Date(ms);
    return env;
  };
  for (const c of containers) {
    const env = entry(c.Labels);
    const service = c.Labels[ENV_LABEL.service];
    // Helper containers (volume seeding) carry the env label but are no service.
    if (env && (env.createdAt === null || c.Created * 1000 < env.createdAt.getTime()))
      env.createdAt = new Date(c.Created * 1000);
    if (env && service) {
      const address = c.Labels[ENV_LABEL.address] ?? service;
      env.services.push({ name: service, address, containerId: c.Id, state: c.State, health: healthOf(c.Status) });
    }
  }
  for (const n of networks) entry(n.Labels)?.networks.push(n.Name);
  for (const v of volumes.Volumes ?? []) entry(v.Labels)?.volumes.push(v.Name);
  for (const env of envs.values()) env.services.sort((a, b) => a.name.localeCompare(b.name));
  return [...envs.values()].sort((a, b) => a.envId.localeCompare(b.envId));
}

/**
 * Removes every environment whose `dockyard.expires-at` is at or before `now`, whoever
 * created it (labels are all it reads, so it works after an agent restart). Returns the ids
 * removed; an environment whose removal fails is left for the next sweep and not returned.
 */
export async function reapExpired(docker: Dockerode, now: Date): Promise<string[]> {
  const removed: string[] = [];
  for (const env of await listEnvironments(docker)) {
    if (env.expiresAt === null || env.expiresAt.getTime() > now.getTime()) continue;
    try {
      await downEnvironment(docker, env.envId);
      removed.push(env.envId);
    } catch {
      // left for the next sweep: the labels are still there, so nothing is lost by waiting
    }
  }
  return removed;
}

/** `Up 3 seconds (healthy)` → healthy; Docker's list call has no structured health field. */
function healthOf(status: string): EnvironmentSummary['services'][number]['health'] {
  if (status.includes('(healthy)')) return 'healthy';
  if (status.includes('(unhealthy)')) return 'unhealthy';
  if (status.includes('(health: starting)')) return 'starting';
  return null;
}

async function listOrThrow<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new EnvironmentError('unavailable', `cannot list environment resources: ${engineMessage(err)}`, {
      cause: err,
    });
  }
}
