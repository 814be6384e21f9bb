// `build`: an image built on an agent whose engine offers BuildKit (`build`).
// Its affinity key is the image name: placement prefers the agent that last
// built it, whose engine holds its layer cache.
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
    value: {
      context: spec.context,
      dockerfile: spec.dockerfile,
      target: spec.target ?? "",
      args: spec.args,
      tags: spec.tags,
      push: spec.push,
    },
  }),
  summary: ({ image }) =>
    image
      ? `image ${image.ref}  ${(image.sizeBytes / 1e6).toFixed(1)} MB, ${image.layers} layers${image.digest ? `  ${image.digest.slice(0, 19)}…` : ""}`
      : null,
  affinity: {
    key: (spec) => cacheKey(spec.tags),
    away: (agent, why) => `built without its layer cache: agent ${agent}, which built this image last, ${why}`,
  },
};
