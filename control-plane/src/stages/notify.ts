// `notify`: one message per channel, written to the notifications outbox in the transaction
// that ends the stage, so the stage succeeds exactly when its messages are queued (the outbox
// delivers and retries them; a failed delivery does not fail the run after the fact). A channel
// that is missing or disabled when the stage starts fails it with that reason, sending nothing.
import type { NotifySpec } from "@dockyard/pipeline";
import { withOutputs } from "./output-text";
import { NO_RETRY, type ServerStage, type ServerStageContext, type ServerStageKind } from "./kind";

const specOf = (stage: ServerStage) => stage.spec as NotifySpec;

export const notify: ServerStageKind<"notify"> = {
  type: "notify",
  runsOn: "server",
  retry: NO_RETRY,
  channels: (spec) => (spec as NotifySpec).channels,

  async start(stage, ctx) {
    const spec = specOf(stage);
    const problems = await ctx.notify.unusable(spec.channels);
    if (problems.length > 0) {
      await ctx.finish("failed", `nothing sent: ${problems.join("; ")}`);
      return;
    }
    // `${{ stages.X.outputs.K }}` is read now (a missing output errors the stage); `{{ ... }}` when sent.
    const subject = stage.refs.length > 0 ? await withOutputs(spec.subject, ctx) : spec.subject;
    const body = stage.refs.length > 0 ? await withOutputs(spec.body, ctx) : spec.body;
    const ids = await ctx.notify.send({ channels: spec.channels, subject, body });
    const sent = `sent to ${spec.channels.join(", ")}`;
    await ctx.finish("succeeded", sent, { values: { message_ids: ids.join(","), channels: spec.channels.join(",") } });
  },

  // Ends in `start`: no timer is ever set, and no cancel finds it running.
  async onTimer() {},
};
