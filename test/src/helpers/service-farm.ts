// A farm for service tests: a server process (kill -9 able), two agent processes on two Docker
// engines whose service proxies bind 127.0.0.1 and 127.0.0.2 (one machine, two "hosts"), and
// the pieces a test needs around it: the project files of a service, submitting its release,
// the revision each host serves, the replicas' own access logs, and removing everything a
// service leaves (replicas, networks, the detached proxies) whatever the test did.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import Docker from "dockerode";
import { tempDir } from "@dockyard/testkit";
import { OutageFarm, OUTAGE_TIMINGS } from "./outage-farm";
import { DOCKER_HOST, freePort } from "./farm";
import { DOCKER_HOST_B } from "./registry";
import { dockyardCli, projectDir, sourceTarOf, type CliResult } from "./cli-process";
import type { Farm } from "./farm";
import path from "node:path";
import { waitFor } from "./wait";

export const HOSTS = [
  { name: "host-a", engine: DOCKER_HOST, address: "127.0.0.1" },
  { name: "host-b", engine: DOCKER_HOST_B, address: "127.0.0.2" },
] as const;

/** A replica: busybox httpd answering `GREETING revREV` on /, healthy (/health) READY_DELAY s after its start. */
/** With BROKEN set, the page is missing (404) while /health still passes: what only a journey sees. */
export const REPLICA_COMMAND =
  'mkdir -p /www; [ -n "$BROKEN" ] || echo "$GREETING rev$REV" > /www/index.html; (sleep "${READY_DELAY:-0}"; touch /www/health) & exec httpd -f -vv -p 8080 -h /www';

export interface ServiceFileOptions {
  name: string;
  /** Default: the local busybox base image (on both engines); null: no image line (the service keeps its own). */
  image?: string | null;
  proxyPort: number;
  replicas?: number;
  env?: Record<string, string>;
  /** The env file's text (web.env), or none. */
  envFile?: string;
  watchWindow?: string;
  healthTimeout?: string;
  maxParallel?: number;
}

export function serviceFile(o: ServiceFileOptions): string {
  return [
    `name: ${o.name}`,
    `replicas: ${o.replicas ?? 3}`,
    "agents: { svc: web }",
    ...(o.image === null ? [] : [`image: ${o.image ?? "dockyard/busybox:1"}`]),
    `command: ["sh", "-c", ${JSON.stringify(REPLICA_COMMAND)}]`,
    "port: 8080",
    `proxy_port: ${o.proxyPort}`,
    ...(o.envFile !== undefined ? ["env_file: web.env"] : []),
    `env: ${JSON.stringify(o.env ?? {})}`,
    "health: { http: { path: /health }, interval: 200ms, timeout: 1s, min_healthy_time: 1s }",
    "stop_grace_period: 2s",
    `update: { max_parallel: ${o.maxParallel ?? 2}, watch_window: ${o.watchWindow ?? "0s"}, health_timeout: ${o.healthTimeout ?? "20s"}, drain_timeout: 5s }`,
    "",
  ].join("\n");
}

export const releasePipeline = (service: string, extra = "") =>
  [
    "name: release",
    "stages:",
    "  release:",
    "    type: update-service",
    `    service: ${service}`,
    "    file: services/web.yml",
    extra,
    "",
  ].join("\n");

export class ServiceFarm {
  readonly farm: OutageFarm;
  readonly agentDirs = new Map<string, string>();
  /** The services this farm released (from their files' `name:`): stop removes theirs only. */
  readonly services = new Set<string>();
  proxyPort = 0;
  /** Added to every agent's environment when it starts (e.g. DOCKYARD_PUSHGATEWAY_URL, known after the server). */
  readonly agentEnv: Record<string, string> = {};

  /** Agents from dist/ (the bench: what hosts run, without tsx's start-up in every child they spawn). */
  private readonly builtAgents: boolean;

  constructor(opts: { env?: Record<string, string>; builtAgents?: boolean } = {}) {
    this.farm = new OutageFarm({ env: { ...OUTAGE_TIMINGS, ...opts.env } });
    this.builtAgents = opts.builtAgents ?? false;
  }

  /** `beforeAgents` runs once the server answers, before any agent starts (to start what they need). */
  async start(opts: { beforeAgents?: () => Promise<void> } = {}): Promise<void> {
    this.proxyPort = await freePort();
    await this.farm.start();
    await opts.beforeAgents?.();
    for (const h of HOSTS) this.startAgent(h.name);
    await this.farm.waitAgentsOnline(HOSTS.length);
  }

  /** (Re)start a host's agent; a restart keeps its state directory, so it is the same agent. */
  startAgent(name: string): void {
    const host = HOSTS.find((h) => h.name === name)!;
    const stateDir = this.agentDirs.get(name) ?? tempDir(`svc-agent-${name}`);
    this.agentDirs.set(name, stateDir);
    this.farm.spawnAgent(name, {
      executor: "docker",
      labels: { svc: "web" },
      capacity: 6,
      stateDir,
      built: this.builtAgents,
      env: { ...this.agentEnv, DOCKER_HOST: host.engine, DOCKYARD_SERVICE_ADDRESS: host.address },
    });
  }

  killAgent(name: string): void {
    const a = [...this.farm.agents].reverse().find((x) => x.name === name && x.child.exitCode === null);
    a?.child.kill("SIGKILL");
  }

  /** Submit the release pipeline with the project's files uploaded; answers the run id. */
  async release(files: Record<string, string>, pipeline: string): Promise<string> {
    for (const [file, text] of Object.entries(files)) {
      const name = /\.ya?ml$/.test(file) ? /^name:\s*(\S+)/m.exec(text)?.[1] : undefined;
      if (name) this.services.add(name);
    }
    const res = await this.farm.client.submitRun(
      {
        pipelineYaml: Buffer.from(pipeline),
        source: "test:dockyard.yml",
        sourceTar: await sourceTarOf(projectDir({ ...files, "dockyard.yml": pipeline }, "svc")),
      },
      { timeoutMs: 10_000 },
    );
    return res.run!.id;
  }

  /** `dockyard ARGS` against this farm's server, as its API token's user. */
  cli(args: string[]): Promise<CliResult> {
    const server = this.farm.servers[0]!;
    const shim = {
      server: { grpcAddress: server.grpc },
      apiToken: this.farm.apiToken,
      caFile: path.join(this.farm.dataDir, "pki", "ca.crt"),
    };
    return dockyardCli(shim as unknown as Farm, args);
  }

  addresses(): string[] {
    return HOSTS.map((h) => `${h.address}:${this.proxyPort}`);
  }

  async stageOf(runId: string, name = "release") {
    return (
      await this.farm.pg.query<{
        state: string;
        reason: string | null;
        outputs: { values: Record<string, string> } | null;
      }>("SELECT state, reason, outputs FROM stages WHERE run_id = $1 AND name = $2", [runId, name])
    ).rows[0];
  }

  async waitStageEnd(runId: string, timeoutMs = 120_000, stage = "release") {
    return waitFor(
      async () => {
        const s = await this.stageOf(runId, stage);
        return s && !["queued", "assigned", "running"].includes(s.state) ? s : undefined;
      },
      { timeoutMs, intervalMs: 200, message: `update-service stage of run ${runId} to end` },
    );
  }

  async stop(): Promise<void> {
    await this.farm.stop().finally(() => removeServiceLeftovers([...this.services], [...this.agentDirs.values()]));
  }
}

/** What each host's proxy answers on / (one GET each): the revision text it serves now. */
export async function servedBodies(addresses: string[]): Promise<string[]> {
  return Promise.all(
    addresses.map(async (a) => {
      const res = await fetch(`http://${a}/`, { signal: AbortSignal.timeout(3000) }).catch((e: Error) => e);
      return res instanceof Error ? `error: ${res.message}` : (await res.text()).trim();
    }),
  );
}

/** Every distinct body from `n` GETs per address: a host on one revision answers one body. */
export async function bodiesOver(addresses: string[], n = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) for (const b of await servedBodies(addresses)) seen.add(b);
  return seen;
}

/** A replica's access log from its engine: client requests (not the health check) and health answers, timed. */
export async function accessLog(engine: string, containerId: string) {
  const docker = new Docker({ socketPath: engine.replace("unix://", "") });
  const raw = (await docker.getContainer(containerId).logs({ stdout: true, stderr: true, timestamps: true })) as Buffer;
  const lines = demux(raw);
  const at = (l: string) => timestampMs(l.slice(0, l.indexOf(" ")));
  const byConn = new Map<string, string>();
  const requests: { at: number; url: string; status?: string }[] = [];
  for (const l of lines) {
    const m = /\s(\S+): (url|response):(\S+)/.exec(l);
    if (!m) continue;
    if (m[2] === "url") {
      byConn.set(m[1]!, m[3]!);
      requests.push({ at: at(l), url: m[3]! });
    } else {
      const r = [...requests].reverse().find((x) => x.url === byConn.get(m[1]!) && x.status === undefined);
      if (r) r.status = m[3]!;
    }
  }
  const healthOk = requests.filter((r) => r.url === "/health" && r.status === "200").map((r) => r.at);
  return { client: requests.filter((r) => r.url !== "/health").map((r) => r.at), firstHealthy: healthOk[0] ?? null };
}

/**
 * Docker's RFC 3339 nano timestamp in milliseconds, keeping the fraction: Date.parse drops sub-milliseconds,
 * and two lines within one millisecond would compare equal.
 */
function timestampMs(ts: string): number {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return NaN;
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}

/** Docker's multiplexed log stream (8-byte frame headers) to lines. */
function demux(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size).toString("utf8"));
    i += 8 + size;
  }
  return out.join("").split("\n").filter(Boolean);
}

/** Replicas of `service` on an engine (running or not), with their revision. */
export async function replicasOn(engine: string, service: string) {
  const docker = new Docker({ socketPath: engine.replace("unix://", "") });
  const list = await docker.listContainers({ all: true, filters: { label: [`dockyard.service=${service}`] } });
  return list.map((c) => ({
    id: c.Id,
    name: c.Names[0]?.slice(1) ?? "",
    revision: Number(c.Labels["dockyard.revision"]),
    state: c.State,
  }));
}

/** Asserts that every host runs replicas of `revision` only (one revision everywhere). */
export async function assertOneRevision(service: string, revision: number): Promise<void> {
  for (const h of HOSTS) {
    const running = (await replicasOn(h.engine, service)).filter((r) => r.state === "running");
    assert.deepEqual(
      [...new Set(running.map((r) => r.revision))],
      [revision],
      `${h.name} runs revision ${revision} only`,
    );
  }
}

/** Tag `source` on `engine` as `ref` and push it to the test registry (so only that engine has it locally). */
export async function pushToRegistry(
  engine: string,
  source: string,
  ref: string,
  reg: { address: string; username: string; password: string },
): Promise<void> {
  const docker = new Docker({ socketPath: engine.replace("unix://", "") });
  const at = ref.lastIndexOf(":");
  await docker.getImage(source).tag({ repo: ref.slice(0, at), tag: ref.slice(at + 1) });
  const stream = await docker
    .getImage(ref)
    .push({ authconfig: { username: reg.username, password: reg.password, serveraddress: reg.address } });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = err?.message ?? out.find((o) => o.error)?.error;
      if (failed) reject(new Error(`push of ${ref} failed: ${failed}`));
      else resolve();
    }),
  );
}

/** Whether `ref` is on `engine`. */
export async function hasImage(engine: string, ref: string): Promise<boolean> {
  const docker = new Docker({ socketPath: engine.replace("unix://", "") });
  return docker
    .getImage(ref)
    .inspect()
    .then(
      () => true,
      () => false,
    );
}

/** Remove `ref` from `engine` (gone already is fine). */
export async function removeImage(engine: string, ref: string): Promise<void> {
  const docker = new Docker({ socketPath: engine.replace("unix://", "") });
  await docker
    .getImage(ref)
    .remove({ force: true })
    .catch(() => undefined);
}

/**
 * Replicas, networks and proxies of `services` that a service test left, on both engines, whatever happened;
 * other services (another farm's, the demo's) are left alone.
 */
export async function removeServiceLeftovers(services: string[], agentDirs: string[]): Promise<void> {
  for (const engine of new Set(HOSTS.map((h) => h.engine))) {
    const docker = new Docker({ socketPath: engine.replace("unix://", "") });
    for (const service of services) {
      const filters = { label: [`dockyard.service=${service}`] };
      for (const c of await docker.listContainers({ all: true, filters }))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      for (const n of await docker.listNetworks({ filters }))
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
    }
  }
  // The proxies are detached haproxy daemons whose config lives in an agent's state directory.
  for (const dir of agentDirs) {
    try {
      execFileSync("pkill", ["-9", "-f", `haproxy .*${dir}/`]);
    } catch {
      // none left (pkill exits 1)
    }
  }
}
