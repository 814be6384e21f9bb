// The agent's registry of stage kinds: adding a kind is its handler and one line here.
import type { AgentStage, StageTools } from "./kind";
import { build } from "./build";
import { command } from "./command";
import { deploy } from "./deploy";
import { test } from "./test";
import { serviceStep } from "./service-step";
import { uiTest } from "./ui-test";

export const AGENT_STAGES: Record<AgentStage["type"], AgentStage> = {
  command,
  build,
  deploy,
  test,
  serviceStep,
  uiTest,
};

/** The handler of an assignment's kind (undefined for a kind this agent version does not know). */
export function stageFor(kind: string | undefined): AgentStage | undefined {
  return kind && Object.hasOwn(AGENT_STAGES, kind) ? AGENT_STAGES[kind as AgentStage["type"]] : undefined;
}

/** Everything this agent offers, for its registration. */
export function capabilitiesOf(tools: StageTools): string[] {
  return [...new Set(Object.values(AGENT_STAGES).flatMap((s) => s.capabilities(tools)))];
}

export type { AgentStage, StageTools } from "./kind";
