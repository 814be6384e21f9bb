// The held-resource inventory of services on this host (see ../resources.ts): every replica
// container (kind service-replica) and every running proxy (kind service-proxy), read from
// the engine's labels and the proxies' directories, so an agent restart reports the same.
// Neither belongs to a run (runId ""): they live until an update-service step removes them.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type Dockerode from "dockerode";
import { heldResourceProblem } from "@dockyard/proto";
import type { HeldResource } from "../resources";
import { hostReplicas, slotOf, type HostReplica } from "./host-state";
import { REPLICA_LABEL } from "./replica";
import type { ProxySlot, ServiceProxy } from "./service-proxy";

export const SERVICE_REPLICA_RESOURCE = "service-replica";
export const SERVICE_PROXY_RESOURCE = "service-proxy";

/** What the scan needs of the host's services (ServiceHost). */
export interface ServiceProxies {
  readonly dir: string;
  /** This agent's id: only its own replicas are reported (another agent may share the engine). */
  readonly owner: string;
  proxy(service: string, port: number): ServiceProxy;
  advertised(port: number): string;
}

/** `host:port` a running proxy was started with (its config's bind line), or null when unreadable. */
export function runningBind(dir: string): string | null {
  try {
    return /^\s*bind (\S+)\s*$/m.exec(readFileSync(path.join(dir, "haproxy.cfg"), "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}

export async function scanServices(docker: Dockerode, host: ServiceProxies): Promise<HeldResource[]> {
  const held: HeldResource[] = [];
  const proxies = new Map<string, ProxySlot[] | null>();
  for (const service of proxyDirs(host.dir)) {
    const proxy = host.proxy(service, 1);
    const pid = proxy.pid();
    if (pid === null) continue;
    const bind = runningBind(path.join(host.dir, service)) ?? "";
    const port = Number(bind.slice(bind.lastIndexOf(":") + 1)) || 0;
    held.push({
      kind: SERVICE_PROXY_RESOURCE,
      id: service,
      runId: "",
      createdAtMs: 0,
      expiresAtMs: 0,
      attributes: { address: host.advertised(port), port: String(port), pid: String(pid) },
    });
    // A proxy that does not answer leaves in_proxy unknown (absent) rather than wrong.
    proxies.set(service, await proxy.slots().catch(() => null));
  }
  const list = await docker.listContainers({
    all: true,
    filters: { label: [REPLICA_LABEL.service, `${REPLICA_LABEL.owner}=${host.owner}`] },
  });
  const services = [...new Set(list.map((c) => c.Labels[REPLICA_LABEL.service] ?? ""))].filter(Boolean).sort();
  for (const service of services) {
    const slots = proxies.get(service) ?? null;
    for (const r of await hostReplicas(docker, service, host.owner)) held.push(replicaResource(service, r, slots));
  }
  return held.filter((r) => heldResourceProblem(r) === null);
}

function replicaResource(service: string, r: HostReplica, slots: ProxySlot[] | null): HeldResource {
  const attributes: Record<string, string> = {
    service,
    revision: String(r.revision),
    index: String(r.index),
    state: r.running ? "running" : "exited",
  };
  if (slots !== null) attributes.in_proxy = String(slotOf({ replicas: [], slots }, r) !== undefined);
  if (r.ip) attributes.address = `${r.ip}:${r.port}`;
  return {
    kind: SERVICE_REPLICA_RESOURCE,
    id: r.name,
    runId: "",
    createdAtMs: r.createdAtMs,
    expiresAtMs: 0,
    attributes,
  };
}

function proxyDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .filter((name) => /^[a-z0-9][a-z0-9-]{0,62}$/.test(name))
      .sort();
  } catch {
    return []; // no service has run here yet
  }
}
