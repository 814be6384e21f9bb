// What an agent holds on its host for runs beyond their stages (temporary environments
// today, service replicas next), reported whole in every heartbeat: one inventory, whatever
// the kind. The server keeps it in one table (`dockyard envs` is a filter over it) and
// answers which of the resources' runs ended, so a holder releases them even when the NATS
// run-ended notice was lost or came while the agent was down.

/** At most this many resources per heartbeat (the server refuses more). */
export const MAX_HELD_RESOURCES = 1000;

export interface HeldResource {
  /** The resource kind, e.g. `environment`. */
  kind: string;
  /** Unique within its kind on this agent. */
  id: string;
  /** The run that owns it; '' for none. */
  runId: string;
  /** 0 when unknown. */
  createdAtMs: number;
  /** 0 for no expiry. */
  expiresAtMs: number;
  /** Shown to people by the CLI and the HTTP API. */
  attributes: Record<string, string>;
}

/**
 * One kind of held resource on this agent. `runEnded` may come from NATS and from every
 * heartbeat answer, many times for one run: releasing waits for our last runner of the run,
 * runs once at a time per run, and is idempotent (a failed release is retried by the next answer).
 */
export interface ResourceHolder {
  /** The inventory as last seen: the heartbeat sends it, so a slow engine never delays a heartbeat. */
  held(): HeldResource[];
  /** Look again (on the engine, on disk). */
  refresh(): Promise<void>;
  runEnded(runId: string, state: string): void;
  /** One of our runners of the run finished: a release that waited for it goes now. */
  runnerDone(runId: string): void;
}
