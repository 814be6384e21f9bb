// The control plane's registry of stage kinds: adding a kind is its module and one line here.
import type { StageType } from "@dockyard/pipeline";
import type { AgentStageKind, ServerStageKind } from "./kind";
import { build } from "./build";
import { command } from "./command";
import { deploy } from "./deploy";
import { test } from "./test";

export const AGENT_KINDS: { [T in StageType]: AgentStageKind<T> } = { command, build, deploy, test };

/** Kinds the server runs itself (approval and notify come with the next issue). */
export const SERVER_KINDS: Record<string, ServerStageKind> = {};

/** The capability vocabulary agents may register with: whatever the kinds may require. */
export function capabilityVocabulary(kinds: readonly Pick<AgentStageKind, "capabilities">[]): ReadonlySet<string> {
  return new Set(kinds.flatMap((k) => k.capabilities));
}

export const KNOWN_CAPABILITIES = capabilityVocabulary(Object.values(AGENT_KINDS));

export function agentKind<T extends StageType>(type: T): AgentStageKind<T> {
  const kind = AGENT_KINDS[type];
  if (!kind) throw new Error(`no agent stage kind '${type}'`);
  return kind;
}

export type { AgentStageKind, ServerStageKind, AssignmentContext, FinishEffects, FinishedStage, SpecOf } from "./kind";
