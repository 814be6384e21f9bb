// What the control plane knows about one stage kind: where it runs, what an
// agent must offer to take it, its retry default, how its assignment is built
// and what its end means. One module per kind; index.ts is the registry.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StageSpecSchema } from "@dockyard/proto";
import type { KindSpec, StageType } from "@dockyard/pipeline";
import type { RetryPolicy } from "../domain/states";
import type { StageOutputsRow } from "../store/schema";
import type { RunEventExtra } from "../notify/run-notify";
import type { Tx } from "../store/db";
import type { UiTestInputs } from "./ui-test-inputs";

export type SpecOf<T extends StageType> = Extract<KindSpec, { type: T }>;

/** The StageSpec.kind oneof, as an init value. */
export type KindVariant = MessageInitShape<typeof StageSpecSchema>["kind"];

/** What an assignment may read besides the stage's own spec (fetched before it is built). */
export interface AssignmentContext {
  /** Outputs of the run's stages that succeeded, by stage name. */
  outputs: ReadonlyMap<string, StageOutputsRow>;
  run: { name: string; number: number };
  /** A ui-test's history and service target (loaded for ui-test stages only). */
  uiTest?: UiTestInputs;
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
}

/**
 * A kind the server runs itself (approval, notify). Durable: every call runs in one
 * transaction with the attempt row locked, and all a kind keeps between calls is its
 * attempt's state (`ctx.setState`), its timers (`ctx.setTimer`, absolute, in Postgres) and
 * the signals sent to it, so a restarted server or another replica resumes it. The runner
 * (server-runner.ts) claims queued stages and calls `start`; due timers call `onTimer`;
 * a signal (an approval's decision) calls `checkSignal` then `onSignal`; a run cancel calls
 * `cancel` before the attempt ends as canceled; a child's end (`ctx.spawn`) calls `onChildEnded`.
 * The kind ends its attempt with `ctx.finish`,
 * which goes through the same end path as an agent's (endAttempt: events, retries,
 * dependents, run state, in the caller's transaction).
 */
export interface ServerStageKind<T extends string = string> {
  type: T;
  runsOn: "server";
  retry: RetryPolicy;
  /** The kind arms its own deadline from its spec (approval): the runner arms no stage-timeout timer. */
  ownsTimeout?: boolean;
  /** Notification channels the stage's spec names: each must exist when the run is submitted. */
  channels?(spec: unknown): string[];
  start(stage: ServerStage, ctx: ServerStageContext): Promise<void>;
  onTimer(stage: ServerStage, what: string, ctx: ServerStageContext): Promise<void>;
  /** Refuse a signal before it is recorded (throws a DockyardError naming who may decide). */
  checkSignal?(stage: ServerStage, signal: ServerSignal): void;
  onSignal?(stage: ServerStage, signal: ServerSignal, ctx: ServerStageContext): Promise<void>;
  /** The run was canceled: write what the cancel means to the kind; the attempt then ends as canceled. */
  cancel?(stage: ServerStage, ctx: ServerStageContext): Promise<void>;
  /**
   * A child this attempt spawned (`ctx.spawn`) ended for good (after its retries): called once per
   * child, on whichever replica delivers it, in one transaction with this attempt locked. Not
   * called once this attempt ended (its live children were canceled with it).
   */
  onChildEnded?(stage: ServerStage, child: ChildEnded, ctx: ServerStageContext): Promise<void>;
}

/** Agent work a server kind starts (`ctx.spawn`): an agent kind's spec, run by the ordinary claim. */
export interface ChildSpawn {
  /** Unique within the parent attempt: spawning a key again returns the child it names, never a second one. */
  key: string;
  /** An agent kind's spec (e.g. `{ type: "command", ... }`); built-in variables are substituted. */
  spec: KindSpec;
  /**
   * The only agent that may run it (by id). One that is not online, or lacks the kind's capabilities, ends the child
   * failed with why.
   */
  agentId?: string;
  /** Plain environment for the child (no secrets). */
  env?: Record<string, string>;
  /** Secrets the child gets from the store at its start, by env name (a service's env file references). */
  secrets?: { env: string; secret: string; asFile: boolean }[];
  /** Its own `timeout:` (ms), enforced like a stage's. */
  timeoutMs?: number;
  /** Its retries; default: none (the parent decides what a failure means, and a pinned step must not run twice). */
  retry?: RetryPolicy;
}

/** What `ctx.spawn` answers: the child's stage (its name is `PARENT/KEY`). */
export interface SpawnedChild {
  key: string;
  stageId: string;
  stageName: string;
  /** False when the key was spawned before (the earlier child is answered). */
  created: boolean;
}

/** A child's end, as its parent kind is told (`onChildEnded`). */
export interface ChildEnded {
  key: string;
  stageId: string;
  /** The child stage's end state: succeeded | failed | errored | canceled | lost | skipped. */
  state: string;
  outputs: StageOutputsRow | null;
  reason: string;
  /** The agent that ran its last attempt (id), or null when it never ran. */
  agentId: string | null;
}

/** A server-run attempt as its kind sees it. */
export interface ServerStage {
  runId: string;
  stageId: string;
  stageName: string;
  attemptId: string;
  type: string;
  /** The stage's kind spec (built-ins substituted; output expressions not yet: see ctx.outputs). */
  spec: unknown;
  /** Stages whose outputs the spec reads. */
  refs: string[];
  /** The stage's own `timeout:` (ms), when it has one. */
  timeoutMs: number | null;
  /** What the kind stored with ctx.setState ({} at start). */
  state: Record<string, unknown>;
  run: { name: string; number: number; startedBy: string };
}

/** A signal sent to a server-run attempt (an approval's decision). */
export interface ServerSignal {
  /** approve, reject: an approval's decision; rollback: an update-service stage's (the alert loop's entry point). */
  kind: "approve" | "reject" | "rollback";
  by: string;
  /** The deciding user's id, for the audit log (absent: not a user, e.g. a test). */
  userId?: string;
  roles: string[];
  /** alertmanager: the alert receiver (a firing alert naming the service), audited as the actor `alertmanager`. */
  via: "cli" | "http" | "webhook" | "alertmanager";
  comment: string;
  at: Date;
  /** A rollback's class for dockyard_service_rollbacks_total: `alert` when an alert asked; default `requested`. */
  reasonClass?: "requested" | "alert";
}

/** What a kind may do; every write joins the transaction the call runs in. */
export interface ServerStageContext {
  now(): Date;
  /** The call's transaction, for a kind with tables of its own (update-service: services, the deploy queue). */
  tx: Tx;
  /** End this attempt's live children now (a rollback ends its watch steps); each is told to onChildEnded. */
  endChildren(why: string): Promise<void>;
  /** Outputs of the run's succeeded stages, by name (for `${{ stages.X.outputs.K }}`). */
  outputs(): Promise<ReadonlyMap<string, StageOutputsRow>>;
  /** Merge into the attempt's stored state. */
  setState(patch: Record<string, unknown>): Promise<void>;
  /** An absolute timer; `onTimer(stage, what)` is called once it is due, on whichever replica claims it. */
  setTimer(at: Date, what: string): Promise<void>;
  /** A run event of the kind's own (kind = the stage type), e.g. an approval's waiting/reminder/approved. */
  event(payload: Record<string, unknown>): Promise<void>;
  /** Notifications, written to the outbox in this transaction (sent by the delivery worker after the commit). */
  notify: StageNotifications;
  /**
   * Start agent work as a child of this attempt (see ChildSpawn): a stage row `PARENT/KEY` the
   * ordinary claim places, whose logs and events are the run's; `onChildEnded` is called when it ends.
   */
  spawn(child: ChildSpawn): Promise<SpawnedChild>;
  /** The stage is waiting: its reason (stored on the stage, and a stage event, still `running`). */
  waiting(reason: string): Promise<void>;
  /**
   * End the attempt (a second end is ignored). `stageState: "skipped"` ends the stage skipped
   * (its attempt canceled): dependents are skipped as after any skipped stage.
   */
  finish(
    outcome: "succeeded" | "failed" | "errored",
    reason: string,
    outputs?: StageOutputsRow,
    stageState?: "skipped",
  ): Promise<void>;
}

/** What a server kind may send: its own messages (notify) and the run's `notify:` rules on its events (approval). */
export interface StageNotifications {
  /**
   * Why each of `names` cannot take a message (`'ops' does not exist`, `'ops' is disabled: ...`); empty when all can.
   */
  unusable(names: readonly string[]): Promise<string[]>;
  /**
   * One message per channel; the templates see the run, this stage, `status` (the run's state) and the run's outputs.
   */
  send(msg: { channels: string[]; subject: string; body: string }): Promise<string[]>;
  /**
   * The run's pipeline-level `notify:` rules for `event` (waiting, approved, rejected), `state` saying what this stage
   * did.
   */
  runEvent(event: string, state: string, extra?: RunEventExtra): Promise<number>;
}

export type StageKind = AgentStageKind | ServerStageKind;

/** No automatic retry. */
export const NO_RETRY: RetryPolicy = { count: 0, on: [] };
/** One more attempt if the agent vanished. */
export const RETRY_LOST: RetryPolicy = { count: 1, on: ["lost"] };
