// Drizzle tables: the source of truth for runs, stages, attempts, agents and
// their events. `migrations/` is generated from this file by drizzle-kit.
import { sql } from "drizzle-orm";
import type { KindSpec, RegistrySpec, SourceSpec, StageType } from "@dockyard/pipeline";
import { pgTable, text, integer, bigint, timestamp, jsonb, customType, primaryKey, index, uniqueIndex } from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => "bytea",
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v)),
});

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const joinTokens = pgTable("join_tokens", {
  id: text("id").primaryKey(),
  tokenHash: text("token_hash").notNull().unique(),
  description: text("description").notNull().default(""),
  createdAt: ts("created_at").notNull(),
  revokedAt: ts("revoked_at"),
  /** When it was last accepted, written at most once a minute per token (never per call). */
  lastUsedAt: ts("last_used_at"),
});

/**
 * People and robots that call the API. `roles` is a set (see access/roles.ts for what each
 * allows); a disabled user's tokens are refused from the next call on. Never deleted: the
 * audit log names them.
 */
export const users = pgTable("users", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  roles: jsonb("roles").$type<string[]>().notNull(),
  disabledAt: ts("disabled_at"),
  createdAt: ts("created_at").notNull(),
});

/**
 * Append-only record of who changed what (tokens, users, secrets, agents, runs, approvals).
 * The code has no UPDATE or DELETE of it, and a trigger (added in the migration) refuses both.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: ts("at").notNull(),
    /** The acting user's id, or null when an agent or the server itself acted. */
    actorUserId: text("actor_user_id"),
    actorAgentId: text("actor_agent_id"),
    /** The actor as named when it acted (a user's name, `agent:NAME`, `server`). */
    actor: text("actor").notNull(),
    /** e.g. token.created, user.disabled, secret.set, agent.registered, run.started, approval.decided */
    action: text("action").notNull(),
    /** What was acted on: an id or a name. */
    target: text("target").notNull().default(""),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index("audit_log_at_idx").on(t.at)],
);

export const apiTokens = pgTable("api_tokens", {
  id: text("id").primaryKey(),
  /** The user whose roles the token carries. */
  userId: text("user_id")
    .notNull()
    .references(() => users.id),
  tokenHash: text("token_hash").notNull().unique(),
  description: text("description").notNull().default(""),
  createdAt: ts("created_at").notNull(),
  revokedAt: ts("revoked_at"),
  /** When it was last accepted, written at most once a minute per token (never per call). */
  lastUsedAt: ts("last_used_at"),
});

export const agents = pgTable(
  "agents",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    hostname: text("hostname").notNull().default(""),
    labels: jsonb("labels").$type<Record<string, string>>().notNull(),
    capacity: integer("capacity").notNull(),
    /** online | draining | lost | offline | revoked */
    state: text("state").notNull(),
    /** The agent's Ed25519 public key (hex): its identity; a registration under this id must prove it. */
    publicKey: text("public_key").notNull().default(""),
    /** The live session; empty once the agent left or was revoked. Not a secret (credentials are signed). */
    sessionId: text("session_id").notNull().default(""),
    joinTokenId: text("join_token_id").notNull(),
    revokedAt: ts("revoked_at"),
    version: text("version").notNull().default(""),
    /** What the agent offers (docker, shell, build, ...); a stage kind requires some of them. */
    capabilities: jsonb("capabilities").$type<string[]>().notNull(),
    registeredAt: ts("registered_at").notNull(),
    lastHeartbeatAt: ts("last_heartbeat_at").notNull(),
    /** The agent engine's build cache as it last reported (dockyard_build_cache_bytes). */
    buildCacheBytes: bigint("build_cache_bytes", { mode: "number" }).notNull().default(0),
    /** Run workspaces the agent last reported holding (dockyard_workspaces): of runs still on or just ended. */
    workspacesLive: integer("workspaces_live").notNull().default(0),
    /** ... and of runs that ended over WORKSPACE_LEAK_AFTER_MS ago: their removal failed. */
    workspacesLeaked: integer("workspaces_leaked").notNull().default(0),
  },
  (t) => [index("agents_state_idx").on(t.state), index("agents_join_token_idx").on(t.joinTokenId)],
);

/** Registration nonces seen (a replayed registration is refused); pruned after they expire. */
export const registrationNonces = pgTable(
  "registration_nonces",
  {
    nonce: text("nonce").primaryKey(),
    expiresAt: ts("expires_at").notNull(),
  },
  (t) => [index("registration_nonces_expires_idx").on(t.expiresAt)],
);

/** The secret store: AES-256-GCM ciphertexts only; `keyId` names the key that sealed the value. */
export const secrets = pgTable("secrets", {
  name: text("name").primaryKey(),
  keyId: text("key_id").notNull(),
  nonce: bytea("nonce").notNull(),
  ciphertext: bytea("ciphertext").notNull(),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

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
    /** The user who submitted the run; null for runs older than users. */
    startedBy: text("started_by").references(() => users.id),
    /** The pipeline's `notify:` rules (run events -> channels), or null when it has none. */
    notify: jsonb("notify").$type<NotifyRuleRow[]>(),
  },
  (t) => [index("runs_created_idx").on(t.createdAt)],
);

/** One pipeline-level `notify:` rule as stored with its run. */
export interface NotifyRuleRow {
  on: string[];
  channels: string[];
  subject?: string;
  body?: string;
}

/** Where notifications go. Credentials live in the secret store; `secretRefs` names them (never a value). */
export const channels = pgTable("channels", {
  name: text("name").primaryKey(),
  /** email | sms | webhook */
  type: text("type").notNull(),
  /** Non-secret settings (url, smtp host/port/user, from, to, body template). */
  config: jsonb("config").$type<Record<string, unknown>>().notNull(),
  /** Role -> secret name (`password`, `token`, `key`, `previousKey`). */
  secretRefs: jsonb("secret_refs").$type<Record<string, string>>().notNull(),
  /** Until when the previous webhook key still signs beside the current one (rotation window). */
  previousKeyUntil: ts("previous_key_until"),
  createdAt: ts("created_at").notNull(),
  disabledAt: ts("disabled_at"),
  disabledReason: text("disabled_reason"),
});

/**
 * The outbox: one row per message to one channel, written in the transaction of the event that
 * causes it. `id` is the webhook-id (a receiver drops duplicates by it). A worker claims due rows
 * (FOR UPDATE SKIP LOCKED) and holds them by `leaseUntil`, so a replica killed mid-send is retried.
 */
export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    channel: text("channel").notNull(),
    /** What caused it: `run.failed`, `stage.notify`, `channel.disabled`, `test`. */
    event: text("event").notNull(),
    runId: text("run_id"),
    subject: text("subject").notNull(),
    body: text("body").notNull(),
    /** The structured message a webhook receives as JSON (no secret value: rendered from masked context). */
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: ts("created_at").notNull(),
    nextAttemptAt: ts("next_attempt_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** pending | delivered | failed | disabled */
    state: text("state").notNull(),
    /** The claim holding the row (a late result of an expired claim is dropped); with `leaseUntil`. */
    leaseId: text("lease_id"),
    leaseUntil: ts("lease_until"),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    index("deliveries_due_idx")
      .on(t.nextAttemptAt)
      .where(sql`state = 'pending'`),
    index("deliveries_channel_idx").on(t.channel, t.createdAt),
  ],
);

export const deliveryAttempts = pgTable(
  "delivery_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => deliveries.id, { onDelete: "cascade" }),
    number: integer("number").notNull(),
    at: ts("at").notNull(),
    /** delivered | failed | refused | gone */
    result: text("result").notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    durationMs: integer("duration_ms").notNull(),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.number] })],
);

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

/**
 * The agent that last succeeded with a stage of this affinity key (a kind's `affinity` hook:
 * a build's image name, whose layer cache that agent's engine holds). Keys are `TYPE:KEY`.
 */
export const affinity = pgTable("affinity", {
  key: text("key").primaryKey(),
  agentId: text("agent_id").notNull(),
  at: ts("at").notNull(),
});

/** Temporary environments deploy stages started; `removedAt` once their agent no longer reports them. */
export const environments = pgTable(
  "environments",
  {
    id: text("id").primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    stageName: text("stage_name").notNull(),
    agentId: text("agent_id").notNull(),
    owner: text("owner").notNull(),
    createdAt: ts("created_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    services: jsonb("services").$type<Record<string, string>>().notNull(),
    removedAt: ts("removed_at"),
  },
  (t) => [
    index("environments_live_idx")
      .on(t.agentId)
      .where(sql`removed_at IS NULL`),
  ],
);

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
  /** Its affinity key (`TYPE:KEY`): placement prefers the agent that last succeeded with it. Absent in rows written before. */
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
    /** command | build | deploy | test */
    type: text("type").notNull().default("command"),
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

/** Absolute timers of server-run attempts (a deadline, a reminder, a stage timeout): any replica fires a due one. */
export const serverTimers = pgTable(
  "server_timers",
  {
    id: text("id").primaryKey(),
    attemptId: text("attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    fireAt: ts("fire_at").notNull(),
    /** What the timer means to the kind (deadline, reminder) or to the runner (stage-timeout). */
    what: text("what").notNull(),
  },
  (t) => [index("server_timers_fire_idx").on(t.fireAt), index("server_timers_attempt_idx").on(t.attemptId)],
);

/** Signals to server-run attempts (an approval's decision): recorded whoever receives them, handled under the attempt's lock. */
export const serverSignals = pgTable(
  "server_signals",
  {
    id: text("id").primaryKey(),
    attemptId: text("attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    runId: text("run_id").notNull(),
    stageId: text("stage_id").notNull(),
    /** approve | reject */
    kind: text("kind").notNull(),
    by: text("by").notNull(),
    /** cli | http | webhook */
    via: text("via").notNull(),
    comment: text("comment").notNull().default(""),
    at: ts("at").notNull(),
    handledAt: ts("handled_at"),
  },
  (t) => [
    index("server_signals_unhandled_idx")
      .on(t.at)
      .where(sql`handled_at IS NULL`),
    index("server_signals_stage_idx").on(t.stageId),
  ],
);

/**
 * Children a server-run attempt spawned (stages/server-children.ts), one per key: the key makes a
 * spawn idempotent. The child's end (after its retries) sets `endedAt` in its end transaction;
 * a replica then calls the parent kind's `onChildEnded` and sets `deliveredAt` in one transaction
 * with the parent attempt locked, so each end is told exactly once.
 */
export const serverChildren = pgTable(
  "server_children",
  {
    parentAttemptId: text("parent_attempt_id")
      .notNull()
      .references(() => attempts.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    stageId: text("stage_id")
      .notNull()
      .references(() => stages.id, { onDelete: "cascade" }),
    runId: text("run_id").notNull(),
    createdAt: ts("created_at").notNull(),
    endedAt: ts("ended_at"),
    deliveredAt: ts("delivered_at"),
  },
  (t) => [
    primaryKey({ columns: [t.parentAttemptId, t.key] }),
    uniqueIndex("server_children_stage_uq").on(t.stageId),
    index("server_children_undelivered_idx")
      .on(t.endedAt)
      .where(sql`ended_at IS NOT NULL AND delivered_at IS NULL`),
  ],
);

/**
 * Incoming decision webhooks (chat tools): each is bound to one user, whose decisions it makes.
 * Its Standard Webhooks key lives in the secret store (`secretRef`), never here.
 */
export const approvalHooks = pgTable("approval_hooks", {
  name: text("name").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id),
  secretRef: text("secret_ref").notNull(),
  createdAt: ts("created_at").notNull(),
});

/**
 * `webhook-id`s an incoming hook accepted, kept for the timestamp tolerance so a replay is
 * refused; the primary key makes two replicas race to one winner. Pruned after the window.
 */
export const hookSeenIds = pgTable(
  "hook_seen_ids",
  {
    hook: text("hook").notNull(),
    messageId: text("message_id").notNull(),
    seenAt: ts("seen_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.hook, t.messageId] }), index("hook_seen_ids_seen_idx").on(t.seenAt)],
);
