// `update-service`: the server coordinates, agents execute. The coordinator is a server kind
// (durable: its state is its attempt's, its waits are timers, its steps are children), so a
// killed server resumes it where it was. Phases:
//   queued      waits in the service's deploy queue (deploy-queue.ts) behind the update holding it;
//   reading     a `read` step fetches the service file and env file from the run's source;
//   rolling     one host after another: a `roll` step starts the new replicas, waits until they are
//               healthy, puts them in the host's proxy and drains the old ones, which stay warm;
//   watching    a `watch` step per host for the watch window: a new replica that dies rolls back;
//   retiring    `retire` steps stop the warm old replicas: the update succeeded;
//   rolling-back `rollback` steps switch every host back to the revision before (the warm replicas
//               pass one check and are back in the proxy), then the stage ends failed with why.
// Every end leaves every host on one revision: the new one after `retiring`, the old one after
// `rolling-back`; a rollback step whose agent is away is spawned again until it comes back.
import {
  NO_RETRY,
  type ChildEnded,
  type ServerStage,
  type ServerStageContext,
  type ServerStageKind,
} from "../stages/kind";
import { withOutputs } from "../stages/output-text";
import { queueFor, QUEUE_POLL_MS } from "./deploy-queue";
import { definitionFrom, planFromDefinition, planFromRevision, PlanError, type Plan } from "./update-plan";
import { phaseOfKey, readStep, stepKey, watchStep } from "./steps";
import { setCurrent } from "../store/services";
import { DEFAULT_TIMEOUT_MS, end, failureText, hostStep, recordServing, specOf, stateOf } from "./update-state";
import { afterRollbackStep, askRollback, respawnRollbacks, rollBack } from "./rollback-phase";
import { stepFailureClass } from "./rollback-class";

export const updateService: ServerStageKind<"update-service"> = {
  type: "update-service",
  runsOn: "server",
  retry: NO_RETRY,
  ownsTimeout: true,

  async start(stage, ctx) {
    const at = new Date(ctx.now().getTime() + (stage.timeoutMs ?? DEFAULT_TIMEOUT_MS));
    await ctx.setState({ phase: "queued", deadline: at.toISOString() });
    await ctx.setTimer(at, "timeout");
    await tryQueue(stage, ctx);
  },

  async onTimer(stage, what, ctx) {
    const state = stateOf(stage);
    if (what === "queue" && state.phase === "queued") return tryQueue(stage, ctx);
    if (what === "rollback-retry" && state.phase === "rolling-back") return respawnRollbacks(stage, ctx);
    if (what !== "timeout") return;
    const after = `timed out after ${Math.round((stage.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000)} s`;
    if (state.phase === "queued") return end(stage, ctx, "failed", `${after} waiting in the deploy queue`);
    if (state.phase === "reading") return end(stage, ctx, "failed", `${after} reading the service file`);
    if (state.phase === "rolling") return askRollback(stage, ctx, after, "timeout");
    if (state.phase === "watching") return rollBack(stage, ctx, after, "timeout");
  },

  checkSignal() {},

  async onSignal(stage, signal, ctx) {
    // An alert's comment is the whole reason (`alert NAME: summary`); its class is a field, not text.
    const why =
      signal.via === "alertmanager"
        ? signal.comment
        : `rollback requested by ${signal.by} via ${signal.via}${signal.comment ? `: ${signal.comment}` : ""}`;
    const phase = stateOf(stage).phase;
    const cls = signal.reasonClass ?? (signal.via === "alertmanager" ? "alert" : "requested");
    if (phase === "queued" || phase === "reading") return end(stage, ctx, "failed", `${why} before it rolled`);
    if (phase === "rolling") return askRollback(stage, ctx, why, cls);
    if (phase === "watching" || phase === "retiring") return rollBack(stage, ctx, why, cls);
  },

  async onChildEnded(stage, child, ctx) {
    const state = stateOf(stage);
    const phase = phaseOfKey(child.key);
    if (!state.pending?.includes(child.key)) return; // a canceled earlier phase's step
    const pending = state.pending.filter((k) => k !== child.key);
    await ctx.setState({ pending });
    if (phase === "read") return afterRead(stage, child, ctx);
    if (phase === "roll") return afterRoll(stage, child, ctx);
    if (phase === "watch")
      return child.state === "succeeded"
        ? phaseDone(stage, ctx, pending, retire)
        : rollBack(stage, ctx, failureText(stage, child), stepFailureClass("watch", child));
    if (phase === "retire") return pending.length === 0 ? succeed(stage, ctx) : undefined;
    if (phase === "rollback") return afterRollbackStep(stage, child, ctx, pending);
  },
};

async function tryQueue(stage: ServerStage, ctx: ServerStageContext): Promise<void> {
  const spec = specOf(stage);
  const place = await queueFor(ctx.tx, stage, spec.service, ctx.now());
  if (!place.holding) {
    await ctx.waiting(
      `waiting in the deploy queue of service '${spec.service}': ` +
        `position ${place.position} of ${place.waiting}, behind ${place.holder}`,
    );
    await ctx.setTimer(new Date(ctx.now().getTime() + QUEUE_POLL_MS), "queue");
    return;
  }
  if (spec.revision !== null) return begin(stage, ctx, () => planFromRevision(ctx.tx, spec.service, spec.revision!));
  const child = await ctx.spawn(readStep(spec.service, spec.file!));
  await ctx.setState({ phase: "reading", pending: [child.key] });
  await ctx.waiting(`reading service file '${spec.file}'`);
}

async function afterRead(stage: ServerStage, child: ChildEnded, ctx: ServerStageContext): Promise<void> {
  const spec = specOf(stage);
  if (child.state !== "succeeded") return end(stage, ctx, "failed", `could not read '${spec.file}': ${child.reason}`);
  const image = spec.image === null ? null : stage.refs.length > 0 ? await withOutputs(spec.image, ctx) : spec.image;
  const def = () => definitionFrom(child.outputs?.values ?? {}, spec.file!, spec.service);
  return begin(stage, ctx, () =>
    planFromDefinition(ctx.tx, def(), image, { runId: stage.runId, stageName: stage.stageName }, ctx.now()),
  );
}

/** Plan, then roll the first host (or end at once when planning found a problem). */
async function begin(stage: ServerStage, ctx: ServerStageContext, plan: () => Promise<Plan>): Promise<void> {
  let p: Plan;
  try {
    p = await plan();
  } catch (err) {
    if (err instanceof PlanError || (err as Error).name === "ServiceFileError")
      return end(stage, ctx, "failed", (err as Error).message);
    throw err;
  }
  await ctx.setState({
    phase: "rolling",
    policy: p.policy,
    proxyPort: p.proxyPort,
    target: { revision: p.revision.revision, spec: p.revision.spec, created: p.created },
    previous: p.previous && { revision: p.previous.revision, spec: p.previous.spec },
    hosts: p.hosts,
    index: -1,
    pending: [],
    addresses: [],
    rollbackReason: "",
    rollbackAsked: "",
  });
  const from = p.previous ? `revision ${p.previous.revision}` : "nothing (its first revision)";
  await ctx.waiting(`rolling service '${specOf(stage).service}' from ${from} to revision ${p.revision.revision}`);
  await rollNext(stage, ctx);
}

async function rollNext(stage: ServerStage, ctx: ServerStageContext): Promise<void> {
  const s = stateOf(stage);
  const index = s.index + 1;
  if (index >= s.hosts.length) return startWatch(stage, ctx);
  const host = s.hosts[index]!;
  const key = stepKey("roll", index, host);
  const spawned = await ctx.spawn(hostStep(stage, host, key, "target", { keepOthers: true }));
  await ctx.setState({ index, pending: [spawned.key] });
  await ctx.waiting(
    `rolling host ${host.agentName} (${index + 1} of ${s.hosts.length}) to revision ${s.target.revision}`,
  );
}

async function afterRoll(stage: ServerStage, child: ChildEnded, ctx: ServerStageContext): Promise<void> {
  const s = stateOf(stage);
  const host = s.hosts[s.index]!;
  if (child.state !== "succeeded")
    return rollBack(stage, ctx, failureText(stage, child), stepFailureClass("roll", child));
  const addresses = [...s.addresses];
  if (child.outputs?.values.address) addresses[s.index] = child.outputs.values.address;
  await ctx.setState({ addresses });
  await recordServing(stage, ctx, host, "target");
  if (s.rollbackAsked) return rollBack(stage, ctx, s.rollbackAsked, s.rollbackAskedClass ?? "requested");
  return rollNext(stage, ctx);
}

async function startWatch(stage: ServerStage, ctx: ServerStageContext): Promise<void> {
  const s = stateOf(stage);
  if (s.policy.watchWindowMs === 0) return retire(stage, ctx);
  const keys: string[] = [];
  for (const [i, host] of s.hosts.entries()) {
    if (host.replicas === 0) continue;
    const key = stepKey("watch", i, host);
    await ctx.spawn(watchStep(specOf(stage).service, s.proxyPort, host, key, s.target, s.policy.watchWindowMs));
    keys.push(key);
  }
  await ctx.setState({ phase: "watching", pending: keys });
  const until = new Date(ctx.now().getTime() + s.policy.watchWindowMs).toISOString();
  await ctx.waiting(
    `watching revision ${s.target.revision} until ${until}: a replica that dies rolls back to ` +
      (s.previous ? `revision ${s.previous.revision}` : "nothing"),
  );
}

async function phaseDone(
  stage: ServerStage,
  ctx: ServerStageContext,
  pending: string[],
  next: (stage: ServerStage, ctx: ServerStageContext) => Promise<void>,
): Promise<void> {
  if (pending.length === 0) await next(stage, ctx);
}

async function retire(stage: ServerStage, ctx: ServerStageContext): Promise<void> {
  const s = stateOf(stage);
  const keys: string[] = [];
  for (const [i, host] of s.hosts.entries()) {
    const key = stepKey("retire", i, host);
    await ctx.spawn(hostStep(stage, host, key, "target", { keepOthers: false, allAtOnce: true }));
    keys.push(key);
  }
  await ctx.setState({ phase: "retiring", pending: keys });
  await ctx.waiting(`revision ${s.target.revision} served everywhere; stopping the old replicas`);
}

async function succeed(stage: ServerStage, ctx: ServerStageContext): Promise<void> {
  const s = stateOf(stage);
  await setCurrent(ctx.tx, specOf(stage).service, s.target.revision, ctx.now());
  const same = !s.target.created && s.previous?.revision === s.target.revision;
  const reason = same
    ? `service '${specOf(stage).service}' already ran revision ${s.target.revision}: every host checked`
    : `service '${specOf(stage).service}' rolled to revision ${s.target.revision} on ${s.hosts
        .filter((h) => h.replicas > 0)
        .map((h) => `${h.agentName} (${h.replicas})`)
        .join(", ")}`;
  await end(stage, ctx, "succeeded", reason, false);
}
