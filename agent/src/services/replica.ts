// One replica of a service on this host's engine: a container on the service's own bridge
// network (the host's proxy reaches it by IP), labelled with its service, revision and index
// so an agent finds its replicas after a restart. Healthy means the check passed without a
// failure for `minHealthyMs` in a row; the proxy gets a replica only once it is.
import { setTimeout as delay } from "node:timers/promises";
import http from "node:http";
import type Dockerode from "dockerode";
import { AgentError } from "../errors";
import { engineMessage, logTail, statusOf, withTail } from "../docker/environment-docker";

export const REPLICA_LABEL = {
  service: "dockyard.service",
  /** The agent whose replicas they are: two agents on one engine each run their own (and a farm's cleanup finds them). */
  owner: "dockyard.agent",
  revision: "dockyard.revision",
  index: "dockyard.replica",
} as const;

/**
 * - `start_failed`: the engine refused to create or start it (image missing, name taken);
 * - `exited`: it stopped before it was healthy;
 * - `unhealthy`: its check did not pass for `minHealthyMs` in a row before the deadline.
 */
export class ReplicaError extends AgentError<"start_failed" | "exited" | "unhealthy"> {
  override readonly name = "ReplicaError";
}

export interface HealthCheck {
  /** An HTTP GET of `path` on the replica's port must answer `status`... */
  http?: { path: string; status: number };
  /** ...or this command inside the container must exit 0. */
  command?: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Passing checks for this long, without a failure, make it healthy. */
  minHealthyMs: number;
}

export interface ReplicaSpec {
  service: string;
  /** The agent's id: its label, and part of the name (two agents on one engine never share a replica). */
  owner: string;
  revision: number;
  index: number;
  image: string;
  env: Record<string, string>;
  /** The port it serves on inside its container. */
  port: number;
  /** Instead of the image's own command. */
  command?: string[];
  labels?: Record<string, string>;
}

export interface Replica {
  containerId: string;
  name: string;
  ip: string;
  port: number;
}

export const serviceNetwork = (service: string) => `dy-svc-${service}`;
export const replicaName = (s: Pick<ReplicaSpec, "service" | "owner" | "revision" | "index">) =>
  `dy-svc-${s.service}-${s.owner.slice(0, 8)}-r${s.revision}-${s.index}`;

/** Creations under way, per engine and service: the engine does not refuse a second network of one name. */
const creating = new WeakMap<Dockerode, Map<string, Promise<string>>>();

/**
 * The service's network on this engine, created once. Concurrent calls (a batch starting its
 * replicas together) share one creation: the engine would make two networks of the same name,
 * after which neither can be named. Duplicates an earlier agent left are removed, the oldest kept.
 */
export async function ensureServiceNetwork(docker: Dockerode, service: string): Promise<string> {
  let byService = creating.get(docker);
  if (!byService) creating.set(docker, (byService = new Map()));
  let p = byService.get(service);
  if (!p) {
    p = createServiceNetwork(docker, service).finally(() => byService.delete(service));
    byService.set(service, p);
  }
  return p;
}

async function createServiceNetwork(docker: Dockerode, service: string): Promise<string> {
  const name = serviceNetwork(service);
  const found = (await docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
  if (found.length > 1) {
    const [, ...extra] = found.sort((a, b) => String(a.Created).localeCompare(String(b.Created)));
    for (const n of extra)
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined);
  }
  if (found.length > 0) return name;
  await docker.createNetwork({ Name: name, Driver: "bridge", Labels: { [REPLICA_LABEL.service]: service } });
  return name;
}

/** Create and start the replica's container; resolves with its address on the service network. */
export async function startReplica(docker: Dockerode, spec: ReplicaSpec): Promise<Replica> {
  const network = await ensureServiceNetwork(docker, spec.service);
  const name = replicaName(spec);
  let container: Dockerode.Container;
  try {
    container = await docker.createContainer({
      name,
      Image: spec.image,
      Cmd: spec.command,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: {
        ...spec.labels,
        [REPLICA_LABEL.service]: spec.service,
        [REPLICA_LABEL.owner]: spec.owner,
        [REPLICA_LABEL.revision]: String(spec.revision),
        [REPLICA_LABEL.index]: String(spec.index),
      },
      ExposedPorts: { [`${spec.port}/tcp`]: {} },
      // Not restarted by the engine: a replica that dies is the coordinator's to see (and roll back).
      HostConfig: { NetworkMode: network },
    });
    await container.start();
  } catch (err) {
    throw new ReplicaError("start_failed", `replica ${name} did not start: ${engineMessage(err)}`, { cause: err });
  }
  const info = await container.inspect();
  const ip = info.NetworkSettings.Networks[network]?.IPAddress ?? "";
  if (!info.State.Running) {
    throw new ReplicaError(
      "exited",
      withTail(
        `replica ${name} exited with code ${info.State.ExitCode} right after its start`,
        await logTail(container),
      ),
    );
  }
  if (!ip) throw new ReplicaError("start_failed", `replica ${name} has no address on network ${network}`);
  return { containerId: info.Id, name, ip, port: spec.port };
}

/**
 * Resolves once the check passed for `minHealthyMs` without a failure in between; fails
 * with `exited` when the container stops, or `unhealthy` at `deadline` (epoch ms), quoting
 * the last failure and the end of the replica's log.
 */
export async function waitReplicaHealthy(
  docker: Dockerode,
  replica: Replica,
  check: HealthCheck,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  const container = docker.getContainer(replica.containerId);
  let passingSince: number | null = null;
  let lastFailure = "no check ran yet";
  for (;;) {
    signal?.throwIfAborted();
    const info = await container.inspect();
    if (!info.State.Running) {
      const tail = await logTail(container);
      throw new ReplicaError(
        "exited",
        withTail(`replica ${replica.name} exited with code ${info.State.ExitCode} before it was healthy`, tail),
      );
    }
    const failure = await probe(docker, replica, check);
    const now = Date.now();
    if (failure === null) {
      passingSince ??= now;
      if (now - passingSince >= check.minHealthyMs) return;
    } else {
      passingSince = null;
      lastFailure = failure;
    }
    if (now >= deadline) {
      const tail = await logTail(container);
      throw new ReplicaError(
        "unhealthy",
        withTail(
          `replica ${replica.name} was not healthy for ${check.minHealthyMs} ms in a row in time; last check: ${lastFailure}`,
          tail,
        ),
      );
    }
    await delay(check.intervalMs, undefined, { signal });
  }
}

/** One check: null when it passed, else what failed. */
async function probe(docker: Dockerode, r: Replica, check: HealthCheck): Promise<string | null> {
  if (check.http) {
    const { path, status } = check.http;
    const got = await httpStatus(`http://${r.ip}:${r.port}${path}`, check.timeoutMs).catch((err: Error) => err.message);
    return got === status
      ? null
      : `GET ${path} ${typeof got === "number" ? `answered ${got}, expected ${status}` : got}`;
  }
  if (check.command) {
    const exec = await docker
      .getContainer(r.containerId)
      .exec({ Cmd: check.command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    stream.resume(); // its output is not kept: the exit code decides
    const ended = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), check.timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      stream.once("close", done);
      stream.once("end", done);
    });
    const inTime = await ended;
    stream.destroy();
    if (!inTime) return `${check.command.join(" ")} ran over ${check.timeoutMs} ms`;
    const info = await exec.inspect();
    return info.ExitCode === 0 ? null : `${check.command.join(" ")} exited ${info.ExitCode}`;
  }
  return null; // no check: running is healthy
}

function httpStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** Stop (SIGTERM, then SIGKILL after the grace period) and remove it. Idempotent. */
export async function stopReplica(docker: Dockerode, containerId: string, graceMs: number): Promise<void> {
  const c = docker.getContainer(containerId);
  try {
    await c.stop({ t: Math.ceil(graceMs / 1000) });
  } catch (err) {
    const code = statusOf(err);
    if (code !== 304 && code !== 404) throw err; // 304: already stopped
  }
  try {
    await c.remove({ force: true });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}

/** The replicas of `service` on this engine (running or not), from their labels. */
export async function listReplicas(
  docker: Dockerode,
  service: string,
): Promise<{ containerId: string; revision: number; index: number; running: boolean }[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${REPLICA_LABEL.service}=${service}`] } });
  return list
    .map((c) => ({
      containerId: c.Id,
      revision: Number(c.Labels[REPLICA_LABEL.revision]),
      index: Number(c.Labels[REPLICA_LABEL.index]),
      running: c.State === "running",
    }))
    .sort((a, b) => a.revision - b.revision || a.index - b.index);
}
