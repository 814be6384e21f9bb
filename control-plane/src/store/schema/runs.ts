// Runs and what they are made of: stages (their stored spec and outputs), the edges
// between them, attempts, events, run numbers and the uploaded sources.
import { sql } from "drizzle-orm";
import type { KindSpec, RegistrySpec, SourceSpec, StageType } from "@dockyard/pipeline";
import { pgTable, text, integer, bigint, boolean, jsonb, primaryKey, index, uniqueIndex } from "drizzle-orm/pg-core";
import { bytea, ts } from "./columns";
import { users } from "./identity";

export const runs = pgTable(
  "runs",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    source: text("source").notNull().default(""),
    /** queued | running | succeeded | failed | errored | canceled */
    state: text("state").notNull(),
    pipelineYaml: text("pipeline_yaml").notNull(),
    createdAt: ts("created_at").notNull(),
    finishedAt: ts("finished_at"),
    /** Last allocated run_events.seq; bumping it serialises event writes per run. */
    lastEventSeq: bigint("last_event_seq", { mode: "number" }).notNull().default(0),
    /** Per pipeline name, from 1 (DOCKYARD_RUN_NUMBER); 0 on runs older than the counter. */
    number: integer("number").notNull().default(0),
    /** DOCKYARD_COMMIT: what the submitter said the run is for; '' when unknown. */
    commit: text("commit").notNull().default(""),
    /** The pushed branch of a run a git push started (`dockyard repos`); '' otherwise. */
    branch: text("branch").notNull().default(""),
    /** The user who submitted the run; null for runs older than users. */
    startedBy: text("started_by").references(() => users.id),
    /** The pipeline's `notify:` rules (run events -> channels), or null when it has none. */
    notify: jsonb("notify").$type<NotifyRuleRow[]>(),
  },
  (t) => [index("runs_created_idx").on(t.createdAt), index("runs_branch_idx").on(t.branch, t.createdAt)],
);

/** One pipeline-level `notify:` rule as stored with its run. */
export interface NotifyRuleRow {
  on: string[];
  channels: string[];
  subject?: string;
  body?: string;
}

/** The last run number handed out per pipeline name. */
export const pipelineCounters = pgTable("pipeline_counters", {
  name: text("name").primaryKey(),
  last: integer("last").notNull(),
});

/** The directory the CLI uploaded with a run (a tar), for its build, deploy and test stages. */
export const runSources = pgTable("run_sources", {
  runId: text("run_id")
    .primaryKey()
    .references(() => runs.id, { onDelete: "cascade" }),
  tar: bytea("tar").notNull(),
  sizeBytes: integer("size_bytes").notNull(),
});

/** A stage env variable whose value comes from the secret store (by name, never the value). */
export interface SecretRefRow {
  env: string;
  secret: string;
  asFile: boolean;
}

/**
 * What a stage runs, as stored: the kind's part of the pipeline (`kind`, by `type`) with
 * built-in variables substituted, plus the keys every stage has. Values of secrets never
 * appear here, only their names.
 */
export interface StageSpecRow {
  type: StageType;
  kind: KindSpec;
  /** Plain values only; secrets are in `secrets`, by name. */
  env: Record<string, string>;
  secrets: SecretRefRow[];
  agent: Record<string, string>;
  /** Capabilities an agent must offer (from the kind). */
  requires: string[];
  /** Stages whose outputs the spec reads (`${{ stages.X.outputs.Y }}`), substituted at assignment. */
  refs: string[];
  source: SourceSpec;
  /** The pipeline's registry (or the server's); the password by secret name. */
  registry: RegistrySpec | null;
  /** The stage of this run whose agent must run this one (a test on a deploy's environment). */
  sameAgentAs: string | null;
  /**
   * Its affinity key (`TYPE:KEY`): placement prefers the agent that last succeeded with it. Absent in rows written
   * before.
   */
  affinity?: string | null;
  /** The run's pipeline name and number (an environment's owner). */
  run: { name: string; number: number };
  /** The only agent that may take it (a server kind's child pinned to a host); absent: any that fits. */
  pinAgent?: string | null;
}

/** What a successful attempt reported (see StageOutputs in the proto). */
export interface StageOutputsRow {
  values: Record<string, string>;
  image?: { ref: string; id: string; digest: string; sizeBytes: number; layers: number };
  tests?: { passed: number; failed: number; skipped: number; errors: number; total: number };
}

export const stages = pgTable(
  "stages",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    position: integer("position").notNull(),
    /** pending | queued | assigned | running | succeeded | failed | canceled | errored | lost | skipped */
    state: text("state").notNull(),
    /** The stage's kind (a key of the kinds registry); no default: the submit always names it. */
    type: text("type").notNull(),
    /** agent | server: where the kind runs (the claim takes only agent stages). */
    runsOn: text("runs_on").notNull().default("agent"),
    spec: jsonb("spec").$type<StageSpecRow>().notNull(),
    outputs: jsonb("outputs").$type<StageOutputsRow>(),
    timeoutMs: integer("timeout_ms"),
    retryCount: integer("retry_count").notNull(),
    retryOn: jsonb("retry_on").$type<string[]>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** Agents that lost an attempt of this stage; placement avoids them. */
    avoidAgents: jsonb("avoid_agents")
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    agentId: text("agent_id"),
    exitCode: integer("exit_code"),
    reason: text("reason"),
    queuedAt: ts("queued_at"),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
    /**
     * A server stage's child (agent work its kind spawned, named `PARENT/KEY`): null for the
     * pipeline's own stages. Children have no edges and do not count toward the run's state:
     * their parent decides what their end means (see stages/server-children.ts).
     */
    parentStageId: text("parent_stage_id"),
  },
  (t) => [
    index("stages_run_idx").on(t.runId),
    index("stages_queued_idx")
      .on(t.queuedAt)
      .where(sql`state = 'queued'`),
    uniqueIndex("stages_run_name_uq").on(t.runId, t.name),
    // The server stage runner's beat looks here only: never through the queued agent stages.
    index("stages_server_queued_idx")
      .on(t.queuedAt)
      .where(sql`state = 'queued' AND runs_on = 'server'`),
    // The runner's beat looks for queued children whose pinned agent went away: only children here.
    index("stages_children_queued_idx")
      .on(t.queuedAt)
      .where(sql`state = 'queued' AND parent_stage_id IS NOT NULL`),
    // A ui-test's assignment reads its journey's last results on its env (stages/ui-test-inputs.ts):
    // journeys run every few seconds, so that read must not scan every stage.
    index("stages_ui_test_journey_idx")
      .on(sql`(${t.outputs}->'values'->>'journey')`, sql`(${t.outputs}->'values'->>'env')`, t.finishedAt)
      .where(sql`type = 'ui-test'`),
  ],
);

export const stageEdges = pgTable(
  "stage_edges",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    stageId: text("stage_id").notNull(),
    needsStageId: text("needs_stage_id").notNull(),
    /** `needs: [{ stage, if_skipped: continue }]`: the stage also runs when that one skipped itself (stage-flow.ts). */
    continueIfSkipped: boolean("continue_if_skipped").notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.stageId, t.needsStageId] }), index("stage_edges_needs_idx").on(t.needsStageId)],
);

export const attempts = pgTable(
  "attempts",
  {
    id: text("id").primaryKey(),
    stageId: text("stage_id")
      .notNull()
      .references(() => stages.id, { onDelete: "cascade" }),
    runId: text("run_id").notNull(),
    number: integer("number").notNull(),
    agentId: text("agent_id").notNull(),
    leaseId: text("lease_id").notNull(),
    /** assigned | running | succeeded | failed | errored | canceled | lost | timeout */
    state: text("state").notNull(),
    leaseExpiresAt: ts("lease_expires_at").notNull(),
    deadlineAt: ts("deadline_at"),
    assignedAt: ts("assigned_at").notNull(),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
    exitCode: integer("exit_code"),
    reason: text("reason"),
    /** Highest log chunk seq persisted for this attempt. */
    logSeq: bigint("log_seq", { mode: "number" }).notNull().default(0),
    /** A server-run attempt's own state (its kind's), so any replica can resume it; null for agent attempts. */
    serverState: jsonb("server_state").$type<Record<string, unknown>>(),
  },
  (t) => [
    index("attempts_agent_active_idx")
      .on(t.agentId)
      .where(sql`state in ('assigned','running')`),
    index("attempts_active_lease_idx")
      .on(t.leaseExpiresAt)
      .where(sql`state in ('assigned','running')`),
    // Two replicas can never both create attempt N of a stage.
    uniqueIndex("attempts_stage_number_uq").on(t.stageId, t.number),
  ],
);

export const runEvents = pgTable(
  "run_events",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    at: ts("at").notNull(),
    /** stage | log | run */
    kind: text("kind").notNull(),
    stageId: text("stage_id"),
    attemptId: text("attempt_id"),
    chunkSeq: bigint("chunk_seq", { mode: "number" }),
    stream: integer("stream"),
    data: bytea("data"),
    payload: jsonb("payload").$type<Record<string, unknown>>(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.seq] }),
    uniqueIndex("run_events_chunk_uq")
      .on(t.attemptId, t.chunkSeq)
      .where(sql`kind = 'log'`),
  ],
);
