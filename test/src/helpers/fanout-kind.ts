// Test-only server kind `fanout` (no pipeline can name it: tests insert its stage rows):
// spawns one shell command child per entry of its spec (optionally pinned to an agent id),
// spawns the first key a second time (which must answer the same child), records each
// child's end as onChildEnded tells it, and ends once all ended, with a summary. It
// succeeds even when a child failed, so a test sees that the parent decides. Used by the
// contract suite (in-process) and by a server process the e2e test kills (bin/server-probe.ts).
import type { ChildEnded, ServerStageKind } from "@dockyard/control-plane";

export interface FanoutChild {
  key: string;
  commands: string[];
  agentId?: string;
  retry?: { count: number; on: string[] };
}

export interface FanoutSpec {
  type: "fanout";
  children: FanoutChild[];
}

/** `key=state(reason)` per child, in key order: the parent's summary output. */
export const fanoutSummary = (results: Record<string, ChildEnded>): string =>
  Object.keys(results)
    .sort()
    .map((k) => `${k}=${results[k]!.state}${results[k]!.reason ? `(${results[k]!.reason})` : ""}`)
    .join(" ");

export const fanout: ServerStageKind = {
  type: "fanout",
  runsOn: "server",
  retry: { count: 0, on: [] },
  async start(stage, ctx) {
    const spec = stage.spec as FanoutSpec;
    const names: string[] = [];
    for (const c of spec.children) {
      const child = await ctx.spawn({
        key: c.key,
        spec: {
          type: "command",
          image: null,
          executor: "shell",
          commands: c.commands,
          resources: { memoryBytes: null, nanoCpus: null, pids: null },
        },
        ...(c.agentId !== undefined && { agentId: c.agentId }),
        ...(c.retry && { retry: c.retry }),
      });
      names.push(child.stageName);
    }
    const again = spec.children[0]
      ? await ctx.spawn({
          key: spec.children[0].key,
          spec: {
            type: "command",
            image: null,
            executor: "shell",
            commands: ["false"],
            resources: { memoryBytes: null, nanoCpus: null, pids: null },
          },
        })
      : null;
    await ctx.setState({ expect: spec.children.length, results: {}, names, respawnCreated: again?.created ?? null });
    await ctx.waiting(`waiting for ${spec.children.length} children`);
  },
  async onChildEnded(stage, child, ctx) {
    const results = { ...(stage.state.results as Record<string, ChildEnded>), [child.key]: child };
    await ctx.setState({ results });
    await ctx.event({ action: "child-ended", key: child.key, state: child.state });
    if (Object.keys(results).length < Number(stage.state.expect)) return;
    const values: Record<string, string> = { summary: fanoutSummary(results) };
    for (const [k, r] of Object.entries(results)) {
      values[`${k}.agent`] = r.agentId ?? "";
      for (const [ok, ov] of Object.entries(r.outputs?.values ?? {})) values[`${k}.${ok}`] = ov;
    }
    await ctx.finish("succeeded", values.summary!, { values });
  },
  async onTimer() {},
  async cancel(_stage, ctx) {
    await ctx.event({ action: "canceled" });
  },
};
