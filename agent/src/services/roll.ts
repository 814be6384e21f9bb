// `roll`: converge this host to serving `target` with `replicas` replicas behind its proxy.
// Each pass reads what runs (host-state.ts) and does only what is missing, so a step run
// again after a kill, an abort or an agent restart finishes the job and never does it twice.
// The proxy only ever routes to a replica that passed its check: new ones go in once healthy,
// old ones are drained (in-flight requests finish) before they are taken out.
import { HaproxyRuntimeError } from "./haproxy-runtime";
import { stopReplica } from "./replica";
import { bringUp, type ReadyReplica, type RollContext, type RollTarget } from "./bring-up";
import { freeSlot, hostState, slotOf, staleSlots, type HostReplica, type HostState } from "./host-state";

export type { RollContext, RollTarget } from "./bring-up";

export interface RollSpec {
  service: string;
  /** null: serve nothing here; every replica is taken out and stopped (the proxy stays, with no slot in use). */
  target: RollTarget | null;
  replicas: number;
  maxParallel: number;
  healthTimeoutMs: number;
  drainTimeoutMs: number;
  /** Replicas of other revisions stay running once out of the proxy (warm, for a fast rollback). */
  keepOthers: boolean;
}

/** @throws ReplicaError when a replica of the target fails (the host is left serving what it served), or the signal's reason. */
export async function rollHost(ctx: RollContext, spec: RollSpec): Promise<void> {
  const { docker, proxy, log, signal } = ctx;
  const observe = () => hostState(docker, spec.service, ctx.owner, proxy);
  let state = await forgetDeadSlots(ctx, await observe(), observe);
  const target = spec.target;
  const wanted = (r: HostReplica) =>
    target !== null && r.revision === target.revision && r.index >= 1 && r.index <= spec.replicas;
  /** In the proxy but not wanted: other revisions first (oldest first), then the target's extra ones. */
  const others = (s: HostState) =>
    s.replicas
      .filter((r) => !wanted(r) && slotOf(s, r) !== undefined)
      .sort((a, b) => Number(a.revision === target?.revision) - Number(b.revision === target?.revision));

  if (target) {
    const routed = (s: HostState, index: number) => {
      const r = s.replicas.find((x) => x.revision === target.revision && x.index === index && x.running);
      return r !== undefined && slotOf(s, r)?.state === "ready";
    };
    const pending = range(spec.replicas).filter((i) => !routed(state, i));
    if (pending.length === 0) log(`all ${spec.replicas} replicas of revision ${target.revision} are in the proxy`);
    const parallel = Math.max(1, spec.maxParallel);
    for (let at = 0; at < pending.length; at += parallel) {
      signal.throwIfAborted();
      const batch = pending.slice(at, at + parallel);
      const ready = await bringUpBatch(ctx, spec, target, batch, state);
      state = await observe();
      const taken = new Set<number>();
      for (const r of ready) {
        const own = r.slot !== null ? state.slots.find((s) => s.slot === r.slot) : undefined;
        // Its own slot, unless another replica took it meanwhile (or in this batch: `state` predates the puts).
        const slot =
          own && !taken.has(own.slot) && (own.state === "maint" || own.addr === `${r.replica.ip}:${r.replica.port}`)
            ? own
            : undefined;
        const chosen = slot ?? freeSlot(state, taken);
        if (!chosen)
          throw new HaproxyRuntimeError(
            `the proxy of service '${spec.service}' has no free slot for ${r.replica.name}`,
          );
        taken.add(chosen.slot);
        await proxy.put(chosen.slot, r.replica.ip, r.replica.port);
        log(`replica ${r.replica.name} healthy after ${seconds(r.healthyAfterMs)}; in the proxy (slot ${chosen.slot})`);
      }
      state = await observe();
      await takeOutAll(ctx, spec, state, others(state).slice(0, ready.length));
      state = await observe();
    }
  }
  await takeOutAll(ctx, spec, state, others(state));
  state = await observe();
  await stopLeftovers(ctx, spec, state, wanted);
  if (!target) log(`no replica of service '${spec.service}' runs here now; its proxy stays up with no replica`);
  else log(`this host serves revision ${target.revision} with ${spec.replicas} replicas at ${proxy.address}`);
}

/**
 * Start and check a batch at once. When one fails, the batch's other new replicas are
 * stopped too (none was routed to yet): the host is left serving what it served.
 */
async function bringUpBatch(
  ctx: RollContext,
  spec: RollSpec,
  target: RollTarget,
  batch: number[],
  state: HostState,
): Promise<ReadyReplica[]> {
  const results = await Promise.allSettled(
    batch.map((i) => bringUp(ctx, spec.service, target, i, state, spec.healthTimeoutMs)),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  const ready = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (!failed) return ready;
  if (!ctx.signal.aborted) {
    for (const r of ready.filter((x) => x.fresh)) {
      await stopReplica(ctx.docker, r.replica.containerId, 0);
      ctx.log(`replica ${r.replica.name} was healthy but is stopped: another replica of its batch failed`);
    }
  }
  throw failed.reason;
}

/**
 * Drain each (bounded by drainTimeoutMs) and take it out, then stop together those not kept
 * warm: every one is out of the proxy before any stop waits out its grace period, so a switch
 * (a rollback to warm replicas) takes no replica's stop time per replica.
 */
async function takeOutAll(ctx: RollContext, spec: RollSpec, state: HostState, replicas: HostReplica[]): Promise<void> {
  const out: HostReplica[] = [];
  for (const r of replicas) {
    const slot = slotOf(state, r);
    if (!slot) continue;
    const drained = await ctx.proxy.drain(slot.slot, spec.drainTimeoutMs);
    await ctx.proxy.take(slot.slot);
    const how = drained.idle
      ? "drained"
      : `not drained within ${spec.drainTimeoutMs} ms (${drained.current} requests in flight)`;
    ctx.log(`replica ${r.name} ${how}; out of the proxy (slot ${slot.slot})`);
    out.push(r);
  }
  await stopAll(
    ctx,
    out.filter((r) => !keptWarm(spec, r)),
  );
}

/** Whatever runs and is not wanted, out of the proxy by now: stopped, except warm replicas of other revisions. */
async function stopLeftovers(
  ctx: RollContext,
  spec: RollSpec,
  state: HostState,
  wanted: (r: HostReplica) => boolean,
): Promise<void> {
  const left = state.replicas.filter((r) => !wanted(r) && !slotOf(state, r) && !(r.running && keptWarm(spec, r)));
  await stopAll(ctx, left);
}

/** Only other revisions are worth keeping: the target's extra replicas (a scale-down) go. */
function keptWarm(spec: RollSpec, r: HostReplica): boolean {
  return spec.keepOthers && spec.target !== null && r.revision !== spec.target.revision;
}

/** Stopped together (each waits out its own grace period); the first failure is thrown once all ended. */
async function stopAll(ctx: RollContext, replicas: HostReplica[]): Promise<void> {
  const failed = (await Promise.allSettled(replicas.map((r) => stop(ctx, r)))).find((x) => x.status === "rejected");
  if (failed) throw failed.reason;
}

async function stop(ctx: RollContext, r: HostReplica): Promise<void> {
  await stopReplica(ctx.docker, r.containerId, r.stopGraceMs);
  ctx.log(`replica ${r.name} ${r.running ? "stopped" : "(exited) removed"}`);
}

/** Slots routing to a replica that no longer runs: out, so the proxy only routes to live, checked replicas. */
async function forgetDeadSlots(
  ctx: RollContext,
  state: HostState,
  observe: () => Promise<HostState>,
): Promise<HostState> {
  const dead = staleSlots(state);
  for (const s of dead) {
    await ctx.proxy.take(s.slot);
    ctx.log(`slot ${s.slot} routed to ${s.addr ?? "nothing"}, which no longer runs; taken out of the proxy`);
  }
  return dead.length > 0 ? observe() : state;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
