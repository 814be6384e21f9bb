// The children an update spawns: one `service-step` per host and phase, pinned to that host.
// Keys name the phase and the host, so a phase's children are told apart from a canceled
// earlier phase's (a watch ended by a rollback) and a spawn repeated after a restart is the same child.
import type { ServiceRevisionSpec, ServiceStepSpec, ServiceUpdatePolicy } from "@dockyard/pipeline";
import type { ChildSpawn } from "../stages/kind";

export type StepPhase = "roll" | "watch" | "retire" | "rollback";

/** A host of the update: its replicas of the new revision and of the one before. */
export interface HostPlan {
  agentId: string;
  agentName: string;
  replicas: number;
  previousReplicas: number;
}

export interface Revisioned {
  revision: number;
  spec: ServiceRevisionSpec;
}

/** The key of `phase`'s child on host `index` (`try` > 0: a rollback spawned again after its agent came back). */
export function stepKey(phase: StepPhase, index: number, host: HostPlan, attempt = 0): string {
  const name = host.agentName.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 60);
  return `${phase}-${index + 1}-${name}${attempt > 0 ? `.${attempt}` : ""}`;
}

export const phaseOfKey = (key: string): StepPhase | "read" => key.split("-")[0] as StepPhase | "read";

export const readStep = (service: string, file: string): ChildSpawn => ({
  key: "read",
  spec: { ...emptyStep(service, 0), action: "read", file },
});

interface RollOptions {
  service: string;
  proxyPort: number;
  policy: ServiceUpdatePolicy;
  host: HostPlan;
  key: string;
  /** What the host must serve, with how many replicas (0: nothing). */
  target: Revisioned | null;
  replicas: number;
  keepOthers: boolean;
  /** A rollback switches every replica at once (warm ones are back in a check). */
  allAtOnce?: boolean;
}

export function rollStep(o: RollOptions): ChildSpawn {
  const target = o.replicas > 0 ? o.target : null;
  return {
    key: o.key,
    agentId: o.host.agentId,
    spec: {
      ...emptyStep(o.service, o.proxyPort),
      action: "roll",
      target: target && targetOf(target),
      replicas: target ? o.replicas : 0,
      maxParallel: o.allAtOnce ? Math.max(1, o.replicas) : o.policy.maxParallel,
      healthTimeoutMs: o.policy.healthTimeoutMs,
      drainTimeoutMs: o.policy.drainTimeoutMs,
      keepOthers: o.keepOthers,
    },
    ...(target && secretsOf(target.spec)),
  };
}

export function watchStep(
  service: string,
  proxyPort: number,
  host: HostPlan,
  key: string,
  target: Revisioned,
  watchMs: number,
): ChildSpawn {
  return {
    key,
    agentId: host.agentId,
    spec: {
      ...emptyStep(service, proxyPort),
      action: "watch",
      target: targetOf(target),
      replicas: host.replicas,
      watchMs,
    },
  };
}

function targetOf(r: Revisioned): NonNullable<ServiceStepSpec["target"]> {
  // Each host's step says how many replicas it runs: the revision's total is not the host's.
  const { replicas: _total, ...spec } = r.spec;
  return { ...spec, revision: r.revision };
}

/** The replica's secret env, delivered to the step from the store like any stage's secrets. */
const secretsOf = (s: ServiceRevisionSpec): Pick<ChildSpawn, "secrets"> => ({
  secrets: s.secrets.map((r) => ({ env: r.env, secret: r.secret, asFile: false })),
});

function emptyStep(service: string, proxyPort: number): ServiceStepSpec {
  return {
    type: "service-step",
    action: "read",
    service,
    file: null,
    target: null,
    replicas: 0,
    proxyPort,
    maxParallel: 1,
    healthTimeoutMs: 0,
    drainTimeoutMs: 0,
    keepOthers: false,
    watchMs: 0,
  };
}
