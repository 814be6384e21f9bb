// `build`: an image built on an agent whose engine offers BuildKit (`build`).
// The scheduler prefers the agent that last built the same image name, whose
// engine holds its layer cache (claims.ts reads build_affinity).
import type { AgentStageKind } from "./kind";
import { RETRY_LOST } from "./kind";

/** The image name (repository, no tag) a build's cache is remembered under. */
export function cacheKey(tags: readonly string[]): string {
  const first = tags[0] ?? "";
  const colon = first.lastIndexOf(":");
  return colon > first.lastIndexOf("/") ? first.slice(0, colon) : first;
}

export const build: AgentStageKind<"build"> = {
  type: "build",
  runsOn: "agent",
  retry: RETRY_LOST,
  capabilities: ["docker", "build"],
  requires: () => ["docker", "build"],
  assignment: (spec) => ({
    case: "build",
    value: { context: spec.context, dockerfile: spec.dockerfile, target: spec.target ?? "", args: spec.args, tags: spec.tags, push: spec.push },
  }),
  finished: (spec, end, effects) => effects.rememberBuild(cacheKey(spec.tags), end.agentId, end.at),
};
