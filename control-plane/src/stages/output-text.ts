// A server kind's text that names earlier stages' outputs (`${{ stages.X.outputs.K }}`),
// filled in from the run's succeeded stages when the stage starts.
import { substituteDeep } from "@dockyard/pipeline";
import type { ServerStageContext } from "./kind";

export async function withOutputs(text: string, ctx: Pick<ServerStageContext, "outputs">): Promise<string> {
  const outputs = await ctx.outputs();
  return substituteDeep(text, (ref: { kind: string; stage?: string; key?: string }) => {
    if (ref.kind !== "output") return undefined;
    const value = outputs.get(ref.stage!)?.values[ref.key!];
    if (value === undefined) throw new Error(`stage '${ref.stage}' has no output '${ref.key}'`);
    return value;
  });
}
