// The update-service coordinator (being written).
import { NO_RETRY, type ServerStageKind } from "../stages/kind";

export const updateService: ServerStageKind<"update-service"> = {
  type: "update-service",
  runsOn: "server",
  retry: NO_RETRY,
  async start(_stage, ctx) {
    await ctx.finish("errored", "update-service is not built yet");
  },
  async onTimer() {},
};
