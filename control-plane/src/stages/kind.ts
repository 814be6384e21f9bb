// What the control plane knows about one stage kind: where it runs, what an
// agent must offer to take it, its retry default, how its assignment is built
// and what its end means. One module per kind; index.ts is the registry.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StageSpecSchema } from "@dockyard/proto";
import type { KindSpec, StageType } from "@dockyard/pipeline";
import type { RetryPolicy } from "../domain/states";
import type { StageOutputsRow } from "../store/schema";

export type SpecOf<T extends StageType> = Extract<KindSpec, { type: T }>;

/** The StageSpec.kind oneof, as an init value. */
export type KindVariant = MessageInitShape<typeof StageSpecSchema>["kind"];

/** What an assignment may read besides the stage's own spec (fetched before it is built). */
export interface AssignmentContext {
  /** Outputs of the run's stages that succeeded, by stage name. */
  outputs: ReadonlyMap<string, StageOutputsRow>;
  run: { name: string; number: number };
}

/** A successful end of an agent-run stage, for the kind's `finished` effects. */
export interface FinishedStage {
  runId: string;
  stageId: string;
  stageName: string;
  agentId: string;
  outputs: StageOutputsRow | null;
  at: Date;
}

/** Writes a kind's end may make (deploy: the environment record). */
export interface FinishEffects {
  recordEnvironment(env: {
    id: string;
    runId: string;
    stageName: string;
    agentId: string;
    owner: string;
    createdAt: Date;
    expiresAt: Date;
    services: Record<string, string>;
  }): Promise<void>;
}

interface KindBase<T extends StageType> {
  type: T;
  /** Used when the stage has no `retry:`. Deploy-like kinds: none. */
  retry: RetryPolicy;
}

/** A kind an agent runs (claimed by the scheduler, placed by capabilities). */
export interface AgentStageKind<T extends StageType = StageType> extends KindBase<T> {
  runsOn: "agent";
  /** Every capability `requires` may name: agents registering with them are accepted. */
  capabilities: readonly string[];
  /** Capabilities an agent must offer to take the stage. */
  requires(spec: SpecOf<T>): string[];
  /** A stage of the same run whose agent this one must run on (test: its environment's). */
  sameAgentAs?(spec: SpecOf<T>): string | null;
  /** The pending reason of a stage waiting for that agent, `stage` naming the one it follows. */
  pinNote?(stage: string): string;
  /**
   * Placement affinity: the submit and the claim prefer the agent that last succeeded with a
   * stage of this kind and `key` (build: the image name, whose layer cache that engine holds);
   * `away` is the stage's reason when it was placed elsewhere, `why` saying what kept it away.
   */
  affinity?: { key(spec: SpecOf<T>): string | null; away(agentName: string, why: string): string };
  /** The stage's variant of StageSpec.kind; `spec` has its expressions substituted. */
  assignment(spec: SpecOf<T>, ctx: AssignmentContext): KindVariant;
  /** One line for people from its stored outputs (the CLI's and the HTTP API's `summary`); null for none. */
  summary?(outputs: StageOutputsRow): string | null;
  /** After the stage succeeded (its row already says so); failures are logged, never undo the end. */
  finished?(spec: SpecOf<T>, end: FinishedStage, effects: FinishEffects): Promise<void>;
}

/**
 * A kind the server runs itself (approvals and notifications are next): the server runner
 * claims its queued stages and calls `start`; the kind ends the stage through `ctx.finish`,
 * then or later (a decision, a timer). `cancel` is called when the run is canceled.
 */
export interface ServerStageKind<T extends string = string> {
  type: T;
  runsOn: "server";
  retry: RetryPolicy;
  start(stage: ServerStage, ctx: ServerStageContext): Promise<void>;
  cancel?(stage: ServerStage, ctx: ServerStageContext): Promise<void>;
}

export interface ServerStage {
  runId: string;
  stageId: string;
  stageName: string;
  attemptId: string;
  spec: unknown;
}

export interface ServerStageContext {
  /** End the stage's attempt (idempotent: a second end is ignored). */
  finish(outcome: "succeeded" | "failed" | "errored", reason: string, outputs?: StageOutputsRow): Promise<void>;
  now(): Date;
}

export type StageKind = AgentStageKind | ServerStageKind;

/** No automatic retry. */
export const NO_RETRY: RetryPolicy = { count: 0, on: [] };
/** One more attempt if the agent vanished. */
export const RETRY_LOST: RetryPolicy = { count: 1, on: ["lost"] };
