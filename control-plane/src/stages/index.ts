// The control plane's registry of stage kinds: adding a kind is its module and one line here.
// Each kind says where it runs (agent or server); the run's rows and the claims follow it.
import type { StageType } from "@dockyard/pipeline";
import type { AgentStageKind, ServerStageKind } from "./kind";
import { approval } from "./approval";
import { build } from "./build";
import { command } from "./command";
import { deploy } from "./deploy";
import { notify } from "./notify";
import { test } from "./test";
import { serviceStep } from "./service-step";
import { updateService } from "./update-service";
import { uiTest } from "./ui-test";

export const STAGE_KINDS: { [T in StageType]: AgentStageKind<T> | ServerStageKind<T> } = {
  command,
  build,
  deploy,
  test,
  approval,
  notify,
  "update-service": updateService,
  "service-step": serviceStep,
  "ui-test": uiTest,
};

/** Kinds the server runs itself, by type. */
export const SERVER_KINDS: Record<string, ServerStageKind> = Object.fromEntries(
  (Object.values(STAGE_KINDS) as (AgentStageKind | ServerStageKind)[])
    .filter((k): k is ServerStageKind => k.runsOn === "server")
    .map((k) => [k.type, k]),
);

/** The capability vocabulary agents may register with: whatever the kinds may require. */
export function capabilityVocabulary(kinds: readonly Pick<AgentStageKind, "capabilities">[]): ReadonlySet<string> {
  return new Set(kinds.flatMap((k) => k.capabilities));
}

/** Kinds agents run, by type. */
export const AGENT_KINDS: Record<string, AgentStageKind> = Object.fromEntries(
  (Object.values(STAGE_KINDS) as (AgentStageKind | ServerStageKind)[])
    .filter((k): k is AgentStageKind => k.runsOn === "agent")
    .map((k) => [k.type, k]),
);

export const KNOWN_CAPABILITIES = capabilityVocabulary(Object.values(AGENT_KINDS));

export function stageKind(type: StageType): AgentStageKind | ServerStageKind {
  const kind = STAGE_KINDS[type] as AgentStageKind | ServerStageKind | undefined;
  if (!kind) throw new Error(`no stage kind '${type}'`);
  return kind;
}

export function agentKind<T extends StageType>(type: T): AgentStageKind<T> {
  const kind = stageKind(type);
  if (kind.runsOn !== "agent") throw new Error(`stage kind '${type}' runs on the server, not on an agent`);
  return kind as unknown as AgentStageKind<T>;
}

export type { AgentStageKind, ServerStageKind, AssignmentContext, SpecOf } from "./kind";
