// `deploy`: a temporary environment on the agent's engine. Not retried by default:
// a half-started environment is not started again behind the user's back. The agent
// holds it as an `environment` resource (its heartbeat inventory), which is what
// `dockyard envs` lists: no end effect records it.
import { ENVIRONMENT_RESOURCE } from "@dockyard/proto";
import type { AgentStageKind } from "./kind";
import { NO_RETRY } from "./kind";
import type { ResourceRow } from "../store/resources";

/** A temporary environment, as `dockyard envs` and the HTTP API show it. */
export interface EnvironmentRecord {
  id: string;
  runId: string;
  stageName: string;
  agentId: string;
  agentName: string;
  owner: string;
  createdAt: Date | null;
  expiresAt: Date | null;
  /** Service -> address on the environment network. */
  services: Record<string, string>;
}

/** An `environment` resource row (attributes `stage`, `owner`, `service.NAME`) as an environment. */
export function environmentOf(r: ResourceRow & { agentName: string }): EnvironmentRecord {
  const services: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.attributes))
    if (k.startsWith("service.")) services[k.slice("service.".length)] = v;
  return {
    id: r.id,
    runId: r.runId ?? "",
    stageName: r.attributes.stage ?? "",
    agentId: r.agentId,
    agentName: r.agentName,
    owner: r.attributes.owner ?? "",
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    services,
  };
}

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
};
