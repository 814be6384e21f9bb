// The end of `run --watch`: what the stages produced, one line each, as their kinds
// summarise it (the server fills `summary`: images with size, layers and digest; test
// counts; environments and their addresses).
import type { Stage } from "@dockyard/proto";
import type { Colors } from "./status-format";

export function formatOutputs(stages: Stage[], c: Colors): string[] {
  const width = Math.max(0, ...stages.map((s) => s.name.length));
  const lines = stages
    .filter((s) => s.outputs?.summary)
    .map((s) => `  ${c.bold(s.name.padEnd(width))}  ${s.outputs!.summary}`);
  return lines.length ? ["outputs:", ...lines] : [];
}
