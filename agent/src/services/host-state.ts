// What one host runs for a service, read fresh from the engine and the proxy each time: its
// replicas (from their labels) and which proxy slot routes to each. Nothing is remembered
// between steps, so a step after a kill or an agent restart sees exactly what is there.
import type Dockerode from "dockerode";
import { REPLICA_LABEL, serviceNetwork } from "./replica";
import type { ProxySlot, ServiceProxy } from "./service-proxy";

/** The old revision's stop grace, kept on the container: the step that stops it may roll another revision. */
export const STOP_GRACE_LABEL = "dockyard.stop-grace-ms";
/** The port it serves on inside its container (its address is ip:port). */
export const PORT_LABEL = "dockyard.port";

export interface HostReplica {
  containerId: string;
  name: string;
  revision: number;
  index: number;
  running: boolean;
  /** Its address on the service network ("" when it has none, e.g. exited). */
  ip: string;
  port: number;
  stopGraceMs: number;
  createdAtMs: number;
}

export interface HostState {
  replicas: HostReplica[];
  slots: ProxySlot[];
}

/** The replicas of `service` this agent (`owner`) runs on its engine (running or not), oldest revision first. */
export async function hostReplicas(docker: Dockerode, service: string, owner: string): Promise<HostReplica[]> {
  const network = serviceNetwork(service);
  const label = [`${REPLICA_LABEL.service}=${service}`, `${REPLICA_LABEL.owner}=${owner}`];
  const list = await docker.listContainers({ all: true, filters: { label } });
  return list
    .map((c) => ({
      containerId: c.Id,
      name: (c.Names[0] ?? "").replace(/^\//, ""),
      revision: Number(c.Labels[REPLICA_LABEL.revision]),
      index: Number(c.Labels[REPLICA_LABEL.index]),
      running: c.State === "running",
      ip: c.State === "running" ? (c.NetworkSettings?.Networks?.[network]?.IPAddress ?? "") : "",
      port: Number(c.Labels[PORT_LABEL] ?? 0),
      stopGraceMs: Number(c.Labels[STOP_GRACE_LABEL] ?? 10_000) || 0,
      createdAtMs: c.Created * 1000,
    }))
    .sort((a, b) => a.revision - b.revision || a.index - b.index);
}

export async function hostState(
  docker: Dockerode,
  service: string,
  owner: string,
  proxy: ServiceProxy,
): Promise<HostState> {
  const [replicas, slots] = await Promise.all([hostReplicas(docker, service, owner), proxy.slots()]);
  return { replicas, slots };
}

const ipOf = (addr: string) => addr.slice(0, addr.lastIndexOf(":"));

/** The slot routing to `replica` (ready or draining), or undefined when it is out of the proxy. */
export function slotOf(state: HostState, replica: HostReplica): ProxySlot | undefined {
  if (!replica.ip) return undefined;
  return state.slots.find((s) => s.state !== "maint" && s.addr !== null && ipOf(s.addr) === replica.ip);
}

/** A slot taken out that last routed to `replica`: it served before, so one passing check lets it back in. */
export function formerSlotOf(state: HostState, replica: HostReplica): ProxySlot | undefined {
  if (!replica.ip) return undefined;
  return state.slots.find((s) => s.state === "maint" && s.addr !== null && ipOf(s.addr) === replica.ip);
}

/** Slots routing (ready or draining) to no running replica: a replica died or was removed behind our back. */
export function staleSlots(state: HostState): ProxySlot[] {
  const live = new Set(state.replicas.filter((r) => r.running && r.ip).map((r) => r.ip));
  return state.slots.filter((s) => s.state !== "maint" && (s.addr === null || !live.has(ipOf(s.addr))));
}

/**
 * A slot to put a replica in: never used first, then ones whose last replica is gone, then
 * ones remembering a warm replica (that one loses its fast way back). Undefined: all in use.
 */
export function freeSlot(state: HostState, taken: Set<number>): ProxySlot | undefined {
  const running = new Set(state.replicas.filter((r) => r.running && r.ip).map((r) => r.ip));
  const free = state.slots.filter((s) => s.state === "maint" && !taken.has(s.slot));
  return (
    free.find((s) => s.addr === null) ?? free.find((s) => s.addr !== null && !running.has(ipOf(s.addr))) ?? free[0]
  );
}
