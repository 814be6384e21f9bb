// A pipeline stage -> its stored row spec: built-in variables substituted now
// (they are known when the run is created), the kind's capabilities, the
// stages whose outputs it reads (substituted at assignment), its registry.
import {
  referencedStages,
  substituteDeep,
  type BuiltinVariable,
  type PipelineSpec,
  type RegistrySpec,
  type StageDef,
} from "@dockyard/pipeline";
import type { RetryPolicy } from "../domain/states";
import type { StageSpecRow } from "../store/schema";
import { stageKind } from "./index";

export interface RunIdentity {
  id: string;
  name: string;
  number: number;
  commit: string;
}

export function stageSpecRow(
  stage: StageDef,
  pipeline: PipelineSpec,
  run: RunIdentity,
  registry: RegistrySpec | null,
): StageSpecRow {
  const builtins: Record<BuiltinVariable, string> = {
    DOCKYARD_RUN_ID: run.id,
    DOCKYARD_RUN_NUMBER: String(run.number),
    DOCKYARD_PIPELINE: run.name,
    DOCKYARD_COMMIT: run.commit,
    DOCKYARD_STAGE: stage.name,
  };
  const resolve = (ref: { kind: string; name?: string }) =>
    ref.kind === "builtin" ? builtins[ref.name as BuiltinVariable] : undefined;
  const kind = substituteDeep(stage.spec, resolve, true);
  const env = substituteDeep(stage.env, resolve, true);
  const module = stageKind(stage.type);
  const typed = kind as never;
  const onAgent = module.runsOn === "agent" ? module : null;
  const affinityKey = onAgent?.affinity?.key(typed) ?? null;
  return {
    type: stage.type,
    kind,
    env,
    secrets: stage.secrets,
    agent: stage.agent,
    requires: onAgent ? onAgent.requires(typed) : [],
    refs: referencedStages({ kind, env }),
    source: pipeline.source,
    registry,
    sameAgentAs: onAgent?.sameAgentAs?.(typed) ?? null,
    // Named by type too: one table holds every kind's keys.
    affinity: affinityKey === null ? null : `${stage.type}:${affinityKey}`,
    run: { name: run.name, number: run.number },
  };
}

/** Where the stage runs: its kind says (approval: the server). */
export function runsOnOf(stage: StageDef): "agent" | "server" {
  return stageKind(stage.type).runsOn;
}

/** The stage's retry policy: its own, or its kind's default. */
export function retryOf(stage: StageDef): RetryPolicy {
  return stage.retry ?? stageKind(stage.type).retry;
}
