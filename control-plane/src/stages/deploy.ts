// `deploy`: a temporary environment on the agent's engine. Not retried by default:
// a half-started environment is not started again behind the user's back. Its
// end records the environment (dockyard envs) until its agent reports it gone.
import type { AgentStageKind } from "./kind";
import { NO_RETRY } from "./kind";

export const deploy: AgentStageKind<"deploy"> = {
  type: "deploy",
  runsOn: "agent",
  retry: NO_RETRY,
  capabilities: ["docker"],
  requires: () => ["docker"],
  assignment: (spec, ctx) => ({
    case: "deploy",
    value: {
      template: spec.template,
      images: spec.images,
      seed: spec.seed,
      ttlMs: BigInt(spec.ttlMs),
      healthTimeoutMs: BigInt(spec.healthTimeoutMs),
      keepOnFailure: spec.keepOnFailure,
      owner: `${ctx.run.name}#${ctx.run.number}`,
    },
  }),
  summary: ({ values }) => {
    if (!values.env_id) return null;
    const services = Object.entries(values)
      .filter(([k]) => k.endsWith(".address"))
      .map(([k, v]) => `${k.slice(0, -".address".length)}=${v}`);
    return `environment ${values.env_id}  ${services.join(" ")}`;
  },
  finished: async (spec, end, effects) => {
    const v = end.outputs?.values ?? {};
    if (!v.env_id) return;
    const services = Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k.endsWith(".address"))
        .map(([k, a]) => [k.slice(0, -".address".length), a]),
    );
    await effects.recordEnvironment({
      id: v.env_id,
      runId: end.runId,
      stageName: end.stageName,
      agentId: end.agentId,
      owner: v.owner ?? "",
      createdAt: end.at,
      expiresAt: new Date(Number(v.expires_at_ms) || end.at.getTime() + spec.ttlMs),
      services,
    });
  },
};
