// `service-step`: one host's step of a service update (being written).
import type { AgentStage } from "./kind";
import { ExecutorError } from "../executor/errors";

export const serviceStep: AgentStage = {
  type: "serviceStep",
  capabilities: () => [],
  start() {
    return Promise.reject(new ExecutorError("start_failed", "service-step is not built yet"));
  },
  async remove() {},
};
