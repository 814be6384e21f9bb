// `command`: the stage's commands through the executor it names (docker or
// shell). An image that is not on this host is pulled from the run's registry
// first, when the stage has one; executors themselves never pull.
import type { AgentStage } from "./kind";
import { ensureImage } from "../docker/registry";
import { ExecutorError } from "../executor/errors";
import { registryAuth } from "./registry-auth";

export const command: AgentStage = {
  type: "command",
  capabilities: (tools) => tools.executors.map((e) => e.name),
  async start(a, spec, tools, signal) {
    const kind = a.spec?.kind;
    if (kind?.case !== "command") throw new ExecutorError("start_failed", "not a command stage");
    const executor = tools.executors.find((e) => e.name === kind.value.executor) ?? tools.executors[0];
    if (!executor) throw new ExecutorError("start_failed", `no ${kind.value.executor} executor on this agent`);
    const auth = registryAuth(a);
    if (executor.name === "docker" && tools.docker && auth && spec.image?.startsWith(`${auth.server}/`)) {
      await ensureImage(tools.docker, spec.image, auth, () => undefined, signal);
    }
    return executor.start(spec, signal);
  },
  async remove(a, spec, tools) {
    const name = a.spec?.kind?.case === "command" ? a.spec.kind.value.executor : "docker";
    await (tools.executors.find((e) => e.name === name) ?? tools.executors[0])?.remove(spec);
  },
};
