// The services' public JSON (GET /api/v1/services, .../history, POST .../rollback; the CLI's
// --json prints the same): a value that does not exist (yet) is null.

export interface ServiceHostView {
  agent: string;
  agentId: string;
  /** Replicas the current revision places on this host. */
  expected: number;
  /** Replicas of the current revision running here, as its agent last reported. */
  running: number;
  /** Running replicas of other revisions (warm ones during a watch window, or leftovers). */
  others: number;
  /** The service's address on this host (its proxy); null before the agent reported it. */
  address: string | null;
  healthy: boolean;
}

export interface ServiceView {
  name: string;
  /** null: no revision yet. */
  revision: number | null;
  previousRevision: number | null;
  image: string | null;
  proxyPort: number;
  /** healthy: every host runs all its replicas of the revision; degraded: some do not; none: no revision. */
  health: "healthy" | "degraded" | "none";
  hosts: ServiceHostView[];
  /** The update holding the service now (a deploy queue's head), or null. */
  updating: { runId: string; run: string; stage: string } | null;
  updatedAt: string;
}

export interface ServiceHistoryView {
  revision: number;
  agent: string;
  replicas: number;
  since: string;
  /** null: it still runs there. */
  until: string | null;
  /** `PIPELINE#NUMBER` of the run that put it there. */
  run: string;
  runId: string | null;
  action: "update" | "rollback";
  reason: string;
}

export interface RollbackView {
  /** switch: the update in progress rolls back; run: a rollback run started. */
  mode: "switch" | "run";
  runId: string;
}
