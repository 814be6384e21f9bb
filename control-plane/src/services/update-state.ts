// The update-service coordinator's state (its attempt's server_state) and what every phase
// shares: reading it, the history's origin, the failure text of a step, and the stage's end.
import type { UpdateServiceSpec, ServiceUpdatePolicy } from "@dockyard/pipeline";
import type { ChildEnded, ServerStage, ServerStageContext } from "../stages/kind";
import { leaveQueue } from "./deploy-queue";
import { rollStep, type HostPlan, type Revisioned } from "./steps";
import type { ChildSpawn } from "../stages/kind";
import { recordHost } from "../store/services";
import type { RollbackClass } from "./rollback-class";

/** How long an update may take, queue included, when the stage sets no `timeout:`. */
export const DEFAULT_TIMEOUT_MS = 60 * 60_000;
/** A rollback step whose agent is away is spawned again this often, this many times (then the stage errors). */
export const ROLLBACK_RETRY_MS = 2000;
export const ROLLBACK_TRIES = 300;

export type Phase = "queued" | "reading" | "rolling" | "watching" | "retiring" | "rolling-back";

export interface UpdateState {
  phase: Phase;
  policy: ServiceUpdatePolicy;
  proxyPort: number;
  target: Revisioned & { created: boolean };
  previous: Revisioned | null;
  hosts: HostPlan[];
  /** rolling: the host being rolled; rolling-back: tries so far. */
  index: number;
  /** Keys of the current phase still running. */
  pending: string[];
  /** Host index -> the address its roll step reported. */
  addresses: string[];
  rollbackReason: string;
  /** A rollback asked for while a host rolls: taken once that step ends. */
  rollbackAsked: string;
  /** The class of the rollback asked for (rollback-class.ts); absent in a state written before it: `requested`. */
  rollbackAskedClass?: RollbackClass;
}

export const specOf = (stage: ServerStage) => stage.spec as UpdateServiceSpec;
export const stateOf = (stage: ServerStage) => stage.state as unknown as UpdateState;
export const runRef = (stage: ServerStage) => `${stage.run.name}#${stage.run.number}`;
export function failureText(stage: ServerStage, child: ChildEnded): string {
  const s = stateOf(stage);
  const host = child.key.split("-").slice(2).join("-"); // keys are PHASE-INDEX-HOST
  return `revision ${s.target.revision} ${child.state} on ${host}: ${child.reason || child.state}`;
}

export const origin = (stage: ServerStage, action: "update" | "rollback", reason = "") => ({
  runId: stage.runId,
  runRef: runRef(stage),
  action,
  reason: reason || specOf(stage).reason,
});

export async function end(
  stage: ServerStage,
  ctx: ServerStageContext,
  outcome: "succeeded" | "failed" | "errored",
  reason: string,
  rolledBack?: boolean,
): Promise<void> {
  const s = stateOf(stage);
  await leaveQueue(ctx.tx, stage.attemptId);
  const values: Record<string, string> = { service: specOf(stage).service };
  if (s.target) {
    values.revision = String(rolledBack ? (s.previous?.revision ?? "") : s.target.revision);
    values.previous_revision = String(s.previous?.revision ?? "");
    values.addresses = (s.addresses ?? []).filter(Boolean).join(",");
    values.rolled_back = String(rolledBack === true);
  }
  await ctx.finish(outcome, reason, { values });
}

/** Which revision a host step brings a host to: the update's target, or the revision before it. */
type To = "target" | "previous";

/** The roll step that brings `host` to the target or the previous revision (with its replicas there). */
export function hostStep(
  stage: ServerStage,
  host: HostPlan,
  key: string,
  to: To,
  opts: { keepOthers: boolean; allAtOnce?: boolean },
): ChildSpawn {
  const s = stateOf(stage);
  return rollStep({
    service: specOf(stage).service,
    proxyPort: s.proxyPort,
    policy: s.policy,
    host,
    key,
    target: to === "target" ? s.target : s.previous,
    replicas: to === "target" ? host.replicas : host.previousReplicas,
    ...opts,
  });
}

/** The history: `host` serves the target or the previous revision from now. */
export async function recordServing(
  stage: ServerStage,
  ctx: ServerStageContext,
  host: HostPlan,
  to: To,
): Promise<void> {
  const s = stateOf(stage);
  const serving =
    to === "target"
      ? { revision: s.target.revision, replicas: host.replicas }
      : { revision: s.previous?.revision ?? null, replicas: host.previousReplicas };
  const o = to === "target" ? origin(stage, "update") : origin(stage, "rollback", s.rollbackReason);
  await recordHost(
    ctx.tx,
    specOf(stage).service,
    { agentId: host.agentId, agentName: host.agentName, ...serving },
    o,
    ctx.now(),
  );
}
