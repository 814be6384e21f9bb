// `service-step` (internal): one host's step of a service update, spawned by update-service as
// a child pinned to that host (see pipeline's kinds/service-step.ts for the actions). Never
// retried by itself: the coordinator decides what a failed or lost step means (roll back).
import type { AgentStageKind } from "./kind";
import { NO_RETRY } from "./kind";

export const serviceStep: AgentStageKind<"service-step"> = {
  type: "service-step",
  runsOn: "agent",
  retry: NO_RETRY,
  capabilities: ["docker"],
  requires: () => ["docker"],
  assignment: (spec) => ({
    case: "serviceStep",
    value: {
      action: spec.action,
      service: spec.service,
      file: spec.file ?? "",
      target: spec.target
        ? {
            revision: spec.target.revision,
            image: spec.target.image,
            env: spec.target.env,
            command: spec.target.command ?? [],
            port: spec.target.port,
            health: {
              httpPath: spec.target.health.http?.path ?? "",
              httpStatus: spec.target.health.http?.status ?? 0,
              command: spec.target.health.command ?? [],
              intervalMs: BigInt(spec.target.health.intervalMs),
              timeoutMs: BigInt(spec.target.health.timeoutMs),
              minHealthyMs: BigInt(spec.target.health.minHealthyMs),
            },
            stopGraceMs: BigInt(spec.target.stopGraceMs),
          }
        : undefined,
      replicas: spec.replicas,
      proxyPort: spec.proxyPort,
      maxParallel: spec.maxParallel,
      healthTimeoutMs: BigInt(spec.healthTimeoutMs),
      drainTimeoutMs: BigInt(spec.drainTimeoutMs),
      keepOthers: spec.keepOthers,
      watchMs: BigInt(spec.watchMs),
    },
  }),
};
