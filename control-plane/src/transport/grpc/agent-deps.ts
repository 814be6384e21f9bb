// What the AgentService handlers (agent-handlers.ts, attempt-stream.ts) are built from.
import type { Logger } from "pino";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import type { PlacementCache } from "../../scheduler/placement-cache";
import type { StageSpecRow } from "../../store/schema";
import type { AssignmentInputs } from "../../stages/assignment";
import type { AgentStreams } from "./agent-streams";
import type { RegistrationDeps } from "./registration";
import type { Scheduler } from "../../scheduler/scheduler";
import type { ServerMetrics } from "../../metrics";
import type { RunEventRecord } from "../../store/events";

export interface AgentHandlerDeps {
  db: Db;
  /** The pool kept for liveness (heartbeats must not queue behind bulk work). */
  liveDb?: Db;
  clock: Clock;
  scheduler: Scheduler;
  metrics: ServerMetrics;
  leaseTtlMs: number;
  /** Agents stop an attempt they could not renew for this long (sent in each assignment). */
  leaseFenceMs: number;
  /** True while a dependency is down (the server holds every lease): a `retry` then says `held`. */
  dependencyDown?: () => boolean;
  /** Attempts this server just placed: their stream opens without a query. */
  placements?: PlacementCache;
  publish(events: RunEventRecord[]): void;
  /** What an assignment reads: earlier stages' outputs, decrypted secrets, the registry password (only for the agent it is placed on). */
  assignmentInputs(runId: string, spec: StageSpecRow, agentId?: string | null): Promise<AssignmentInputs>;
  registration: Omit<RegistrationDeps, "db" | "clock" | "log">;
  /** Streams open on this replica, for pushing placements (see agent-streams.ts). */
  streams?: AgentStreams;
  log: Logger;
}
