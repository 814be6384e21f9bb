// One replica of the target made ready for the proxy: reused when a container of that name
// runs, started otherwise, then checked. A replica that served before (it is in the proxy,
// draining, or its old slot still remembers it) and still runs needs one passing check, so a
// rollback to warm replicas is a switch; a new one must pass for min_healthy_time in a row.
import type Dockerode from "dockerode";
import { formerSlotOf, PORT_LABEL, slotOf, STOP_GRACE_LABEL, type HostState } from "./host-state";
import { replicaName, startReplica, stopReplica, waitReplicaHealthy, type HealthCheck, type Replica } from "./replica";
import type { ServiceProxy } from "./service-proxy";

/** One revision as this host runs it (the step's target, secrets already in `env`). */
export interface RollTarget {
  revision: number;
  image: string;
  env: Record<string, string>;
  command: string[] | null;
  port: number;
  health: HealthCheck;
  stopGraceMs: number;
}

export interface RollContext {
  docker: Dockerode;
  /** This agent's id: its replicas carry it (another agent on the same engine has its own). */
  owner: string;
  proxy: ServiceProxy;
  /** One plain sentence for the stage log. */
  log(line: string): void;
  signal: AbortSignal;
}

/** A healthy replica, not yet (or again) routed to. */
export interface ReadyReplica {
  replica: Replica;
  /** Started by this step (so a failed batch stops it again). */
  fresh: boolean;
  /** The slot it is in or last was in, when it served before: it goes back there if the slot is free. */
  slot: number | null;
  healthyAfterMs: number;
}

/** @throws ReplicaError (after stopping and taking out the replica) or the signal's reason. */
export async function bringUp(
  ctx: RollContext,
  service: string,
  target: RollTarget,
  index: number,
  state: HostState,
  healthTimeoutMs: number,
): Promise<ReadyReplica> {
  const { docker, log, signal } = ctx;
  const name = replicaName({ service, owner: ctx.owner, revision: target.revision, index });
  let existing = state.replicas.find((r) => r.name === name);
  if (existing && !existing.running) {
    // Its log was shown when it failed; a container of that name stands in the way of a new one.
    await stopReplica(docker, existing.containerId, 0);
    log(`replica ${name} had exited; removed, starting it again`);
    existing = undefined;
  }
  let replica: Replica;
  if (existing) {
    replica = { containerId: existing.containerId, name, ip: existing.ip, port: existing.port || target.port };
  } else {
    signal.throwIfAborted();
    log(`starting replica ${name} (${target.image})`);
    replica = await startReplica(docker, {
      service,
      owner: ctx.owner,
      revision: target.revision,
      index,
      image: target.image,
      env: target.env,
      port: target.port,
      command: target.command ?? undefined,
      labels: { [STOP_GRACE_LABEL]: String(target.stopGraceMs), [PORT_LABEL]: String(target.port) },
    });
  }
  const served = existing ? (slotOf(state, existing) ?? formerSlotOf(state, existing)) : undefined;
  if (existing) log(`replica ${name} already runs${served ? " and served before: one passing check" : ""}`);
  const check = served ? { ...target.health, minHealthyMs: 0 } : target.health;
  const t0 = Date.now();
  try {
    await waitReplicaHealthy(docker, replica, check, t0 + healthTimeoutMs, signal);
  } catch (err) {
    // Aborted: nothing is wrong with it; the next step checks it again and uses it.
    if (signal.aborted) throw err;
    const routed = existing && slotOf(state, existing);
    if (routed) await ctx.proxy.take(routed.slot);
    await stopReplica(docker, replica.containerId, 0);
    log(`replica ${name} failed${routed ? `; taken out of the proxy (slot ${routed.slot}) and` : ";"} stopped`);
    throw err;
  }
  return { replica, fresh: !existing, slot: served?.slot ?? null, healthyAfterMs: Date.now() - t0 };
}
