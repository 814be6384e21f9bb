// The ServiceStep assignment (proto) as the roll and watch modules take it: numbers instead
// of bigints, nulls instead of empty values, and the step's secrets in the replicas' env.
import type { ServiceStep, ServiceTarget } from "@dockyard/proto";
import type { RollSpec, RollTarget } from "./roll";
import type { HealthCheck } from "./replica";

export function rollTargetOf(t: ServiceTarget | undefined, secrets: Record<string, string>): RollTarget | null {
  if (!t) return null;
  const h = t.health;
  const health: HealthCheck = {
    intervalMs: Number(h?.intervalMs ?? 1000n) || 1000,
    timeoutMs: Number(h?.timeoutMs ?? 1000n) || 1000,
    minHealthyMs: Number(h?.minHealthyMs ?? 0n),
  };
  if (h?.httpPath) health.http = { path: h.httpPath, status: h.httpStatus || 200 };
  else if (h && h.command.length > 0) health.command = h.command;
  return {
    revision: t.revision,
    image: t.image,
    // Secrets last: a plain value never overrides one (the server keeps their names apart anyway).
    env: { ...t.env, ...secrets },
    command: t.command.length > 0 ? t.command : null,
    port: t.port,
    health,
    stopGraceMs: Number(t.stopGraceMs),
  };
}

export function rollSpecOf(s: ServiceStep, secrets: Record<string, string>): RollSpec {
  return {
    service: s.service,
    target: rollTargetOf(s.target, secrets),
    replicas: s.replicas,
    maxParallel: Math.max(1, s.maxParallel),
    healthTimeoutMs: Number(s.healthTimeoutMs),
    drainTimeoutMs: Number(s.drainTimeoutMs),
    keepOthers: s.keepOthers,
  };
}
