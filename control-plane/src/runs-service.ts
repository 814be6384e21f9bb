// The client-facing operations, shared by the gRPC and HTTP edges: each edge
// decodes, calls one method here, encodes and maps errors.
import { parsePipeline, formatProblems, PIPELINE_LIMITS, type Problem } from "@dockyard/pipeline";
import type { Db } from "./store/db";
import type { Clock } from "./clock";
import { createRun, getRun, listRuns, cancelRun, type RunWithStages, type RunRow } from "./store/runs";
import { listAgents, type AgentWithUsage } from "./store/agents";
import { authenticateApi, createJoinToken, revokeJoinToken } from "./store/tokens";
import { InvalidError } from "./errors";
import type { Scheduler } from "./scheduler/scheduler";
import type { RunEventRecord } from "./store/events";

export interface RunsServiceDeps {
  db: Db;
  clock: Clock;
  scheduler: Scheduler;
  publish(events: RunEventRecord[]): void;
  cancelAttempt(agentId: string, attemptId: string, reason: string): void;
}

const RUN_ID = /^[0-9a-f-]{36}$/;
const API_TOKEN_CACHE_MS = 5000;

export class RunsService {
  constructor(private readonly deps: RunsServiceDeps) {}

  /** Every problem in the file, with line and column; empty when valid. */
  validate(yaml: string | Uint8Array): Problem[] {
    const result = parsePipeline(yaml);
    return result.ok ? [] : result.problems;
  }

  /** Validate, then write the run, its stages and edges in one transaction; nothing is written for an invalid file. */
  async submit(yaml: string | Uint8Array, source: string): Promise<RunWithStages> {
    const result = parsePipeline(yaml);
    if (!result.ok) {
      const lines = formatProblems(result.problems, source.replace(/^[a-z]+:/, "") || "dockyard.yml").split("\n");
      throw new InvalidError(`pipeline is invalid (${result.problems.length} problem${result.problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`, lines);
    }
    const text = typeof yaml === "string" ? yaml : Buffer.from(yaml).toString("utf8");
    const { scheduler } = this.deps;
    const now = this.deps.clock.now();
    const { run, events, placed } = await createRun(this.deps.db, result.pipeline, text, source.slice(0, 200), now, {
      limit: scheduler.batchSize, leaseTtlMs: scheduler.leaseTtlMs,
    });
    this.deps.publish(events);
    scheduler.dispatchPlaced(placed, now);
    // Stages that did not fit (or came after the batch) are the scheduler's.
    if (run.stages.some((s) => s.state === "queued") || placed.placements.length >= scheduler.batchSize) scheduler.kick();
    return run;
  }

  async get(runId: string): Promise<RunWithStages> {
    return getRun(this.deps.db, checkRunId(runId));
  }

  async list(opts: { limit?: number; state?: string }): Promise<RunRow[]> {
    const limit = Math.min(Math.max(opts.limit || 20, 1), 500);
    return listRuns(this.deps.db, { limit, state: opts.state || undefined });
  }

  async cancel(runId: string): Promise<RunWithStages> {
    const { canceledAttempts, events } = await cancelRun(this.deps.db, checkRunId(runId), this.deps.clock.now());
    for (const a of canceledAttempts) this.deps.cancelAttempt(a.agentId, a.id, "canceled by user");
    this.deps.publish(events);
    this.deps.scheduler.kick();
    return getRun(this.deps.db, runId);
  }

  async agents(): Promise<AgentWithUsage[]> {
    return listAgents(this.deps.db);
  }

  async createJoinToken(description: string) {
    if (description.length > 200) throw new InvalidError("description is longer than 200 characters");
    return createJoinToken(this.deps.db, description, this.deps.clock.now());
  }

  async revokeJoinToken(id: string): Promise<void> {
    await revokeJoinToken(this.deps.db, id, this.deps.clock.now());
  }

  /**
   * Resolve an API bearer token; throws UnauthenticatedError. Accepted tokens
   * are remembered for API_TOKEN_CACHE_MS (a revoked one works that long).
   */
  async authenticate(token: string): Promise<string> {
    const hit = this.tokens.get(token);
    if (hit && hit.until > Date.now()) return hit.id;
    const id = await authenticateApi(this.deps.db, token);
    if (this.tokens.size > 10_000) this.tokens.clear();
    this.tokens.set(token, { id, until: Date.now() + API_TOKEN_CACHE_MS });
    return id;
  }

  private readonly tokens = new Map<string, { id: string; until: number }>();

  static readonly maxPipelineBytes = PIPELINE_LIMITS.maxBytes;
}

export function checkRunId(runId: string): string {
  if (!RUN_ID.test(runId)) throw new InvalidError(`run id must be a UUID, got '${runId.slice(0, 64)}'`);
  return runId;
}
