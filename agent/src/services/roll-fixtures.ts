// Fixtures of the roll and watch tests: a service on the real engine behind a real HAProxy,
// replicas that answer "revN" (busybox httpd, logging each request's path), and a proxy that
// notes when each replica was put in, so a test can hold the replica's own request log
// against it ("no request reached it before it was in the proxy").
import net from "node:net";
import path from "node:path";
import type Dockerode from "dockerode";
import pino from "pino";
import { freePort, tempDir } from "@dockyard/testkit";
import { BASE_IMAGE } from "../executor/docker-client";
import { connectEngine, uniq } from "../docker/environment-fixtures";
import type { RollContext, RollSpec, RollTarget } from "./roll";
import { listReplicas, serviceNetwork, stopReplica, type HealthCheck } from "./replica";
import { findHaproxy, PROXY_SLOTS, ServiceHost } from "./service-host";
import { ServiceProxy } from "./service-proxy";

export const REPLICA_PORT = 8080;

/** -vv: busybox httpd logs `url:/path` of each request on stderr. */
const SERVE = [
  "sh",
  "-c",
  `mkdir -p /www && echo rev$REV > /www/index.html && touch /www/health && exec httpd -f -vv -p ${REPLICA_PORT} -h /www`,
];

/** A real proxy that notes when each address was put in (the moment before the runtime API call). */
export class RecordingProxy extends ServiceProxy {
  readonly puts: { ip: string; slot: number; at: number }[] = [];

  override async put(slot: number, ip: string, port: number): Promise<void> {
    this.puts.push({ ip, slot, at: Date.now() });
    await super.put(slot, ip, port);
  }
}

export interface RollFixture {
  docker: Dockerode;
  service: string;
  host: ServiceHost;
  proxy: RecordingProxy;
  url: string;
  /** The step log's lines so far, each with when it was written. */
  lines: { at: number; text: string }[];
  ctx(signal?: AbortSignal): RollContext;
  spec(target: RollTarget | null, over?: Partial<RollSpec>): RollSpec;
  cleanup(): Promise<void>;
}

export function target(revision: number, health: Partial<HealthCheck> = {}): RollTarget {
  return {
    revision,
    image: BASE_IMAGE,
    env: { REV: String(revision) },
    command: SERVE,
    port: REPLICA_PORT,
    health: { http: { path: "/health", status: 200 }, intervalMs: 100, timeoutMs: 1000, minHealthyMs: 300, ...health },
    stopGraceMs: 1000,
  };
}

export { freePort };

export async function rollFixture(): Promise<RollFixture> {
  const docker = await connectEngine();
  const service = `roll-${uniq()}`;
  const dir = tempDir("service-roll");
  const owner = `agent-${uniq()}`;
  const host = new ServiceHost({
    docker,
    dir,
    address: "127.0.0.1",
    owner: () => owner,
    log: pino({ level: "silent" }),
  });
  const port = await freePort();
  const haproxy = findHaproxy();
  if (!haproxy) throw new Error("haproxy is not installed on this host: apt-get install haproxy");
  await host.ensureProxy(service, port, haproxy);
  const proxy = new RecordingProxy({
    service,
    dir: path.join(dir, service),
    bind: { host: "127.0.0.1", port },
    slots: PROXY_SLOTS,
    binary: haproxy,
  });
  const lines: { at: number; text: string }[] = [];
  return {
    docker,
    service,
    host,
    proxy,
    url: `http://${proxy.address}/`,
    lines,
    ctx: (signal = new AbortController().signal) => ({
      docker,
      owner,
      proxy,
      signal,
      log: (text) => lines.push({ at: Date.now(), text }),
    }),
    spec: (t, over = {}) => ({
      service,
      target: t,
      replicas: 2,
      maxParallel: 1,
      healthTimeoutMs: 20_000,
      drainTimeoutMs: 5000,
      keepOthers: false,
      ...over,
    }),
    cleanup: async () => {
      await proxy.stop();
      for (const r of await listReplicas(docker, service)) await stopReplica(docker, r.containerId, 0);
      await docker
        .getNetwork(serviceNetwork(service))
        .remove()
        .catch(() => undefined);
    },
  };
}

/** The paths a replica was asked for, with when its engine logged each (from httpd -vv's `url:` lines). */
export async function requestLog(docker: Dockerode, containerId: string): Promise<{ at: number; path: string }[]> {
  const raw = (await docker
    .getContainer(containerId)
    .logs({ stdout: true, stderr: true, timestamps: true, follow: false })) as unknown as Buffer;
  const text: string[] = [];
  let rest = Buffer.from(raw);
  while (rest.length >= 8 && (rest[0] === 1 || rest[0] === 2)) {
    const size = rest.readUInt32BE(4);
    text.push(rest.subarray(8, 8 + size).toString("utf8"));
    rest = rest.subarray(8 + size);
  }
  return text
    .join("")
    .split("\n")
    .flatMap((line) => {
      const m = /^(\S+) .*: url:(\S+)/.exec(line);
      // Nanoseconds cut to milliseconds: Date parses three fraction digits.
      return m ? [{ at: Date.parse(`${m[1]!.slice(0, 23)}Z`), path: m[2]! }] : [];
    });
}

/** Poll `cond` until it holds or `timeoutMs` passed. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
