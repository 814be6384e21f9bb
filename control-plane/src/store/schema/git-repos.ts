// Git repositories registered for push webhooks (`dockyard repos add`): where the pipeline
// file lives in each, which branches start it, the sealed secret's name, and the delivery ids
// already received (a replayed delivery is refused).
import { pgTable, text, primaryKey, index } from "drizzle-orm/pg-core";
import { ts } from "./columns";

export const gitRepos = pgTable("git_repos", {
  name: text("name").primaryKey(),
  /** Clone URL (file://, http://, https://) the server reads the pipeline file from and the agents check out. */
  url: text("url").notNull(),
  /** The pipeline file's path inside the repository. */
  pipelinePath: text("pipeline_path").notNull(),
  /** Branches whose pushes start the pipeline (a glob); '' = every branch. */
  branchGlob: text("branch_glob").notNull().default(""),
  /** Name of the secret-store entry holding the webhook secret (sealed). */
  secretRef: text("secret_ref").notNull(),
  createdAt: ts("created_at").notNull(),
});

/**
 * Delivery ids (X-GitHub-Delivery, X-Gitlab-Event-UUID) a repository's hook accepted. Push
 * events carry no signed timestamp, so an id is kept for GIT_DELIVERY_KEEP_MS (far longer than
 * any sender retries); the primary key makes two replicas race to one winner.
 */
export const gitDeliveries = pgTable(
  "git_deliveries",
  {
    repo: text("repo").notNull(),
    deliveryId: text("delivery_id").notNull(),
    seenAt: ts("seen_at").notNull(),
    /** The run the delivery started, or null (ignored branch, ping). */
    runId: text("run_id"),
  },
  (t) => [primaryKey({ columns: [t.repo, t.deliveryId] }), index("git_deliveries_seen_idx").on(t.seenAt)],
);
