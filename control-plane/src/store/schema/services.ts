// Services: long-running Docker services that update-service stages roll (services/). A service
// is created by its first update; each distinct spec is a revision; the history says which
// revision ran where, from when to when, started by which run; and the deploy queue lets one
// update of a service run at a time.
import { sql } from "drizzle-orm";
import { pgTable, text, integer, jsonb, primaryKey, index } from "drizzle-orm/pg-core";
import type { ServiceRevisionSpec, ServiceUpdatePolicy } from "@dockyard/pipeline";
import { ts } from "./columns";
import { attempts } from "./runs";

/** A host's share of a revision: how many replicas on which agent. */
export interface PlacementRow {
  agentId: string;
  agentName: string;
  replicas: number;
}

export const services = pgTable("services", {
  name: text("name").primaryKey(),
  /** The port of the service's proxy on every host: fixed at creation (a new one would drop connections). */
  proxyPort: integer("proxy_port").notNull(),
  /** The revision every host serves, null before the first update succeeded (or after a first one rolled back). */
  currentRevision: integer("current_revision"),
  /** The one served before it: a rollback's default target. */
  previousRevision: integer("previous_revision"),
  /** The last update's policy (max_parallel, watch window, timeouts): a rollback by revision rolls with it. */
  policy: jsonb("policy").$type<ServiceUpdatePolicy>().notNull(),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

export const serviceRevisions = pgTable(
  "service_revisions",
  {
    service: text("service")
      .notNull()
      .references(() => services.name, { onDelete: "cascade" }),
    revision: integer("revision").notNull(),
    /** What a replica is made of: image, env (secrets by name only), command, port, health, replicas. */
    spec: jsonb("spec").$type<ServiceRevisionSpec>().notNull(),
    placement: jsonb("placement").$type<PlacementRow[]>().notNull(),
    /** sha256 of the canonical spec and placement: an update with the same one is that revision again. */
    digest: text("digest").notNull(),
    runId: text("run_id"),
    stageName: text("stage_name").notNull().default(""),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.service, t.revision] }),
    index("service_revisions_digest_idx").on(t.service, t.digest),
  ],
);

/** Which revision ran on which host, from when to when (`until` null: still), started by which run. */
export const serviceHistory = pgTable(
  "service_history",
  {
    id: text("id").primaryKey(),
    service: text("service")
      .notNull()
      .references(() => services.name, { onDelete: "cascade" }),
    revision: integer("revision").notNull(),
    agentId: text("agent_id").notNull(),
    agentName: text("agent_name").notNull(),
    replicas: integer("replicas").notNull(),
    since: ts("since").notNull(),
    until: ts("until"),
    runId: text("run_id"),
    /** `PIPELINE#NUMBER` of that run, kept for people once the run is pruned. */
    runRef: text("run_ref").notNull().default(""),
    /** update | rollback */
    action: text("action").notNull(),
    reason: text("reason").notNull().default(""),
  },
  (t) => [
    index("service_history_service_idx").on(t.service, t.since),
    index("service_history_open_idx")
      .on(t.service, t.agentId)
      .where(sql`until IS NULL`),
  ],
);

/**
 * The deploy queue: one row per update-service attempt that wants the service, in request order.
 * The first whose attempt is still active holds it; an ended attempt's row is ignored and deleted
 * by the next look, so a holder that died releases the service with its attempt.
 */
export const serviceDeploys = pgTable(
  "service_deploys",
  {
    attemptId: text("attempt_id")
      .primaryKey()
      .references(() => attempts.id, { onDelete: "cascade" }),
    service: text("service").notNull(),
    runId: text("run_id").notNull(),
    /** `PIPELINE#NUMBER stage NAME`, for the waiting reason of the ones behind it. */
    holderText: text("holder_text").notNull(),
    requestedAt: ts("requested_at").notNull(),
  },
  (t) => [index("service_deploys_service_idx").on(t.service, t.requestedAt)],
);
