// The line a stage's kind makes of its outputs, for the views (gRPC and HTTP): the
// CLI and the web print it and need not know what any kind reports.
import type { StageType } from "@dockyard/pipeline";
import type { StageOutputsRow } from "../store/schema";
import type { AgentStageKind } from "./kind";
import { AGENT_KINDS } from "./index";

/** Empty when the stage has no outputs, its kind no summary, or the type is unknown here. */
export function outputsSummary(type: string, outputs: StageOutputsRow | null | undefined): string {
  if (!outputs || !Object.hasOwn(AGENT_KINDS, type)) return "";
  const kind = AGENT_KINDS[type as StageType] as AgentStageKind;
  return kind.summary?.(outputs) ?? "";
}
