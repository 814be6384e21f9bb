// An OutageFarm an agent in a network namespace can reach, and that agent: the servers and
// our nats-server listen on 0.0.0.0 (the root-side veth address is one of them; processes
// in the root namespace keep dialling 127.0.0.1), the serving certificate names the
// root-side address, and the agent runs with `ip netns exec`, dialling that address.
import { openSync } from "node:fs";
import path from "node:path";
import { certFingerprint } from "@dockyard/proto";
import { DOCKER_HOST, REPO_ROOT } from "./farm";
import { OutageFarm, type OutageFarmOptions } from "./outage-farm";
import type { NetnsHost } from "./netns";
import { tempDir } from "@dockyard/testkit";

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** A farm whose servers and NATS the agents in `hosts` reach over their veths. */
export function netnsFarm(hosts: readonly NetnsHost[], opts: OutageFarmOptions = {}): OutageFarm {
  return new OutageFarm({
    ...opts,
    listenHost: "0.0.0.0",
    env: { ...opts.env, DOCKYARD_TLS_SANS: hosts.map((h) => h.rootAddress).join(",") },
  });
}

/** A shell or docker agent inside `host`'s namespace (docker reaches its engine over the unix socket). */
export function spawnNamespacedAgent(
  farm: OutageFarm,
  host: NetnsHost,
  name: string,
  opts: {
    executor: "docker" | "shell";
    labels?: Record<string, string>;
    capacity?: number;
    env?: Record<string, string>;
  },
): void {
  const stateDir = tempDir(`netns-agent-${name}`);
  const logFile = path.join(stateDir, "agent.log");
  const out = openSync(logFile, "a");
  const port = (hostPort: string) => hostPort.slice(hostPort.lastIndexOf(":") + 1);
  const child = host.spawn(process.execPath, ["--import", "tsx", path.join(HERE, "../bin/agent.ts")], {
    cwd: REPO_ROOT,
    stdio: ["ignore", out, out],
    env: {
      ...process.env,
      DOCKYARD_SERVER_URL: farm.servers.map((s) => `${host.rootAddress}:${port(s.grpc)}`).join(","),
      DOCKYARD_NATS_URL: `nats://${host.rootAddress}:${farm.natsPort}`,
      DOCKYARD_NATS_PREFIX: farm.prefix,
      DOCKYARD_JOIN_TOKEN: `${farm.joinToken}.${certFingerprint(farm.caPem)}`,
      DOCKYARD_AGENT_NAME: name,
      DOCKYARD_AGENT_EXECUTOR: opts.executor,
      DOCKYARD_AGENT_CAPACITY: String(opts.capacity ?? 4),
      DOCKYARD_AGENT_LABELS: Object.entries(opts.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      DOCKYARD_AGENT_STATE_DIR: stateDir,
      DOCKER_HOST,
      DOCKYARD_LOG_LEVEL: "info",
      ...opts.env,
    },
  });
  farm.agents.push({ name, child, logFile });
}
