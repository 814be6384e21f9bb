// `command`: commands in a container (capability `docker`) or on the host (`shell`).
import type { AgentStageKind, SpecOf } from "./kind";
import { RETRY_LOST } from "./kind";
import { toLimits } from "./limits";

export const command: AgentStageKind<"command"> = {
  type: "command",
  runsOn: "agent",
  retry: RETRY_LOST,
  capabilities: ["docker", "shell"] satisfies SpecOf<"command">["executor"][],
  requires: (spec) => [spec.executor],
  assignment: (spec) => ({
    case: "command",
    value: {
      image: spec.image ?? "",
      commands: spec.commands,
      executor: spec.executor,
      limits: toLimits(spec.resources),
    },
  }),
};
