// `test`: a one-time container; with `environment`, on the same agent as that
// deploy stage (its network lives on that engine) and joined to its network.
import type { AgentStageKind } from "./kind";
import { RETRY_LOST } from "./kind";
import { toLimits } from "./limits";
import { InvalidError } from "../errors";

export const test: AgentStageKind<"test"> = {
  type: "test",
  runsOn: "agent",
  retry: RETRY_LOST,
  capabilities: ["docker"],
  requires: () => ["docker"],
  sameAgentAs: (spec) => spec.environment,
  pinNote: (stage) => `waits for the agent of environment '${stage}'`,
  summary: ({ tests: t }) =>
    t ? `tests ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped, ${t.errors} errors (${t.total})` : null,
  assignment: (spec, ctx) => {
    let network = "";
    if (spec.environment) {
      network = ctx.outputs.get(spec.environment)?.values.network ?? "";
      if (!network)
        throw new InvalidError(
          `environment '${spec.environment}' reported no network: is it a deploy stage that succeeded?`,
        );
    }
    return {
      case: "test",
      value: {
        image: spec.image,
        commands: spec.commands,
        network,
        junitPath: spec.junit ?? "",
        limits: toLimits(spec.resources),
      },
    };
  },
};
