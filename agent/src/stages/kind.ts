// The agent's side of a stage kind: the work itself, using the executors and
// the Docker tools (docker/) as tools, under the unchanged attempt runner (its
// logs, spool, lease and supervisor). One handler per kind; index.ts lists them.
import type Docker from "dockerode";
import type { Assignment, ResourceLimits, StageSpec } from "@dockyard/proto";
import type { AttemptExit, AttemptSpec, Executor, ExecutorHandle } from "../executor/types";
import type { ReportedOutputs } from "../logs/spool";
import type { RunSources } from "./run-sources";
import type { Environments } from "./environments";
import type { BuildCache } from "./build-cache";
import type { OutputDirs } from "./output-dir";
import type { ServiceHost } from "../services/service-host";
import type { StageArtifacts } from "./artifacts";

/** What handlers work with; one set per agent. */
export interface StageTools {
  executors: Executor[];
  /** The Docker engine, when this agent has one. */
  docker: Docker | null;
  /** Whether the engine builds with BuildKit (probed at start). */
  buildkit: boolean;
  /** The runs' source trees on this host (git checkouts, uploaded tars). */
  sources: RunSources;
  environments: Environments;
  /** Command stages' output directories ($DOCKYARD_OUTPUT), under the state directory. */
  outputs: OutputDirs;
  /** The engine's build cache, pruned to its budget after each build. */
  buildCache: BuildCache;
  /** Service replicas and their proxies on this host (service-step), a held resource of their own. */
  services: ServiceHost;
  /** Files an attempt stores on the server (UploadArtifact, under its lease): screenshots, $DOCKYARD_ARTIFACTS. */
  artifacts: StageArtifacts;
  agentId: string;
  /** Where ui-test stages push their metrics (DOCKYARD_PUSHGATEWAY_URL); null: no push. */
  pushgatewayUrl: string | null;
}

/** A started stage: the executor's handle, whose exit may carry outputs. */
export interface StageHandle extends ExecutorHandle {
  wait(): Promise<StageExit>;
}

/** The process a kind runs, as the attempt spec carries it to the executors. */
export interface StageProcess {
  /** `null`: no image (the shell executor, or a kind that runs none). */
  image: string | null;
  commands: string[];
  limits?: ResourceLimits;
}

export interface StageExit extends AttemptExit {
  outputs?: ReportedOutputs;
  /** Why the stage failed although its process exited 0 (bad outputs): it ends `failed` with this message. */
  failure?: string;
}

/**
 * One stage kind on the agent. Call order per attempt: `start` → (iterate `output` ‖
 * `wait`) → `remove` (also after a failed start). Aborting the signal stops the work;
 * `wait` then resolves with the signal's exit. `start` throws ExecutorError (or a kind's
 * own error with a clear message) when the work cannot begin.
 */
export interface AgentStage {
  /** The StageSpec.kind case it handles (its proto variant). */
  readonly type: NonNullable<StageSpec["kind"]["case"]>;
  /** What it offers this agent's tools (registration capabilities); empty when it cannot run here. */
  capabilities(tools: StageTools): string[];
  /** The process it runs (image, commands, limits) for the attempt spec; kinds that run none leave it out. */
  process?(assignment: Assignment): StageProcess;
  start(assignment: Assignment, spec: AttemptSpec, tools: StageTools, signal: AbortSignal): Promise<StageHandle>;
  remove(assignment: Assignment, spec: AttemptSpec, tools: StageTools): Promise<void>;
}
