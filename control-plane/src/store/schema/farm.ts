// What placement remembers and what agents hold: affinity keys and held resources.
import { pgTable, text, jsonb, primaryKey, index } from "drizzle-orm/pg-core";
import { ts } from "./columns";

/**
 * The agent that last succeeded with a stage of this affinity key (a kind's `affinity` hook:
 * a build's image name, whose layer cache that agent's engine holds). Keys are `TYPE:KEY`.
 */
export const affinity = pgTable("affinity", {
  key: text("key").primaryKey(),
  agentId: text("agent_id").notNull(),
  at: ts("at").notNull(),
});

/**
 * What each agent holds on its host beyond stages (temporary environments; service
 * replicas next), exactly as its last heartbeat reported it: rows it no longer reports are
 * deleted. `dockyard envs` reads the `environment` kind. No foreign keys: an agent may report
 * a resource of a run or agent this database no longer has, which is still worth showing.
 */
export const agentResources = pgTable(
  "agent_resources",
  {
    agentId: text("agent_id").notNull(),
    kind: text("kind").notNull(),
    id: text("id").notNull(),
    runId: text("run_id"),
    createdAt: ts("created_at"),
    expiresAt: ts("expires_at"),
    attributes: jsonb("attributes").$type<Record<string, string>>().notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.kind, t.id] }), index("agent_resources_kind_idx").on(t.kind)],
);
