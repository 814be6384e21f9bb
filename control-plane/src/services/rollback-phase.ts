// The rolling-back phase of update-service: every host is switched back to the revision before
// (its warm replicas pass one check and return to the proxy), all hosts at once; a host whose
// agent is away is tried again every ROLLBACK_RETRY_MS until it is back, so the stage never ends
// with hosts on two revisions. A rollback asked for while a host rolls waits for that step.
import type { ChildEnded, ServerStage, ServerStageContext } from "../stages/kind";
import { stepKey } from "./steps";
import { countRollback, type RollbackClass } from "./rollback-class";
import { end, hostStep, recordServing, ROLLBACK_RETRY_MS, ROLLBACK_TRIES, specOf, stateOf } from "./update-state";

/** A rollback asked for while a host rolls waits for that step: two steps never converge one host at once. */
export async function askRollback(
  stage: ServerStage,
  ctx: ServerStageContext,
  why: string,
  cls: RollbackClass,
): Promise<void> {
  await ctx.setState({ rollbackAsked: why, rollbackAskedClass: cls });
  await ctx.waiting(
    `${why}; rolling back once host ${stateOf(stage).hosts[stateOf(stage).index]?.agentName} finished its step`,
  );
}

export async function rollBack(
  stage: ServerStage,
  ctx: ServerStageContext,
  why: string,
  cls: RollbackClass,
): Promise<void> {
  const s = stateOf(stage);
  if (s.phase === "rolling-back") return;
  // Counted once, as it starts: a second cause while rolling back is not a second rollback.
  await countRollback(ctx.tx, specOf(stage).service, cls);
  await ctx.endChildren(`service '${specOf(stage).service}' is rolling back`);
  await ctx.setState({ phase: "rolling-back", rollbackReason: why, index: 0, pending: [] });
  await ctx.waiting(`rolling back to ${s.previous ? `revision ${s.previous.revision}` : "nothing"}: ${why}`);
  await respawnRollbacks(stage, ctx);
}

/** Spawn the rollback step of every host not yet back (again, after an agent that was away). */
export async function respawnRollbacks(stage: ServerStage, ctx: ServerStageContext): Promise<void> {
  const s = stateOf(stage);
  const done = new Set((stage.state.rolledBack as number[] | undefined) ?? []);
  const keys: string[] = [];
  for (const [i, host] of s.hosts.entries()) {
    if (done.has(i)) continue;
    const key = stepKey("rollback", i, host, s.index);
    await ctx.spawn(hostStep(stage, host, key, "previous", { keepOthers: false, allAtOnce: true }));
    keys.push(key);
  }
  await ctx.setState({ pending: keys, index: s.index + 1 });
}

export async function afterRollbackStep(
  stage: ServerStage,
  child: ChildEnded,
  ctx: ServerStageContext,
  pending: string[],
): Promise<void> {
  const s = stateOf(stage);
  const i = Number(child.key.split("-")[1]) - 1;
  const host = s.hosts[i]!;
  if (child.state === "succeeded") {
    await ctx.setState({ rolledBack: [...((stage.state.rolledBack as number[] | undefined) ?? []), i] });
    await recordServing(stage, ctx, host, "previous");
  } else if (s.index >= ROLLBACK_TRIES) {
    return end(
      stage,
      ctx,
      "errored",
      `could not roll host ${host.agentName} back after ${s.index} tries (${child.reason}); ${s.rollbackReason}`,
    );
  } else {
    await ctx.waiting(`rolling back: host ${host.agentName} failed its step (${child.reason}); trying again`);
  }
  if (pending.length > 0) return;
  const left = s.hosts.length - ((stage.state.rolledBack as number[] | undefined)?.length ?? 0);
  if (left > 0) return void (await ctx.setTimer(new Date(ctx.now().getTime() + ROLLBACK_RETRY_MS), "rollback-retry"));
  const to = s.previous ? `revision ${s.previous.revision}` : "nothing (it had no earlier revision)";
  await ctx.notify.runEvent(
    "rolled_back",
    `service '${specOf(stage).service}' rolled back to ${to}: ${s.rollbackReason}`,
  );
  await end(stage, ctx, "failed", `rolled back to ${to}: ${s.rollbackReason}`, true);
}
