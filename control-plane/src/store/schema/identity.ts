// Who: join tokens, users and their API tokens, the append-only audit log, agents,
// registration nonces and the secret store (ciphertexts only).
import { pgTable, text, integer, bigint, jsonb, primaryKey, index } from "drizzle-orm/pg-core";
import { bytea, ts } from "./columns";

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
    /**
     * When an admin drained it (HTTP `POST /agents/:id/drain`): it stays draining, whatever its heartbeats say and
     * across restarts, until undrained (null).
     */
    drainRequestedAt: ts("drain_requested_at"),
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
