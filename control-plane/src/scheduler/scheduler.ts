// The scheduling loop of one server replica: claim queued stages, commit their
// attempts, then dispatch; and sweep for lost agents, expired leases and
// timeouts. Any number of replicas run this against one database.
import type { Logger } from "pino";
import type { Db } from "../store/db";
import type { Clock } from "../clock";
import { claimAndPlace, type Placed, type Placement } from "../store/claims";
import { expireAttempts, loseAgentAttempts } from "../store/attempts";
import { markLostAgents, pruneAgents } from "../store/agents";
import type { EndedAttempt } from "../store/stage-flow";
import type { RunEventRecord } from "../store/events";
import type { ServerMetrics } from "../metrics";
import { PendingExplainer } from "./pending-explainer";
import { SERVER_AGENT_ID } from "../domain/server-agent";
import { defaultFenceMs, FENCE_KILL_BUDGET_MS } from "@dockyard/proto";

export interface SchedulerConfig {
  leaseTtlMs: number;
  /** Agents stop an attempt they could not renew for this long (see @dockyard/proto fence.ts). */
  leaseFenceMs?: number;
  agentLostTimeoutMs: number;
  schedulerIntervalMs: number;
  sweepIntervalMs: number;
  /** Stages claimed per transaction. */
  batchSize?: number;
  /** Gone agents (revoked, lost, offline) are pruned this long after their last contact (default 7 days). */
  agentRetentionMs?: number;
  /** A queued stage no registered agent could run ends as errored after this long (default 10 min). */
  unschedulableTimeoutMs?: number;
  /**
   * True while the server must not expire leases or declare agents lost: right after it
   * started and after a dependency outage (see health.ts), agents get a lease TTL to report in.
   */
  holdOff?: () => boolean;
}

/** Where the scheduler's decisions go once committed. */
export interface SchedulerOutputs {
  dispatch(placement: Placement): void;
  cancel(agentId: string, attemptId: string, reason: string): void;
  events(events: RunEventRecord[]): void;
  /** Tell the other replicas there is work (freed capacity, requeued stages). */
  kickOthers(): void;
  /** A server stage's child ended: its parent is to be told now rather than on the next beat. */
  childEnded?(): void;
}

export class Scheduler {
  private running = false;
  private again = false;
  private timers: NodeJS.Timeout[] = [];
  private idle: Promise<void> = Promise.resolve();
  private sweeping = false;
  /** Reasons of queued stages, off the dispatch path (see pending-explainer.ts); made at the first sweep. */
  private pending: PendingExplainer | null = null;
  /** When gone agents were last pruned (ms); pruning runs at most once a minute. */
  private prunedAt = 0;

  constructor(
    private readonly db: Db,
    /** Pool reserved for liveness checks (see Database.liveDb). */
    private readonly liveDb: Db,
    private readonly clock: Clock,
    private readonly out: SchedulerOutputs,
    private readonly config: SchedulerConfig,
    private readonly metrics: ServerMetrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timers.push(setInterval(() => this.kick(), this.config.schedulerIntervalMs).unref());
    this.timers.push(setInterval(() => void this.sweep(), this.config.sweepIntervalMs).unref());
    this.kick();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.idle;
  }

  /** Run a scheduling pass soon; calls while one runs coalesce into one more pass. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.loop().finally(() => {
      this.running = false;
    });
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.schedulePass();
      } catch (err) {
        this.log.error({ err }, "scheduling pass failed");
      }
    } while (this.again);
  }

  /** Stages claimed per pass (and by a submit's own pass). */
  get batchSize(): number {
    return this.config.batchSize ?? 32;
  }

  get leaseTtlMs(): number {
    return this.config.leaseTtlMs;
  }

  /**
   * How long before its lease's expiry an attempt's copy must be dead (lease TTL - fence - kill
   * budget): a retry of an attempt the server ended while its agent may still run it is placed
   * only from its lease's expiry minus this (see endAttempt).
   */
  get retryMarginMs(): number {
    return (
      this.config.leaseTtlMs -
      (this.config.leaseFenceMs ?? defaultFenceMs(this.config.leaseTtlMs)) -
      FENCE_KILL_BUDGET_MS
    );
  }

  private async schedulePass(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const placed = await claimAndPlace(this.db, this.batchSize, now, this.config.leaseTtlMs);
      this.dispatchPlaced(placed, now);
      if (placed.placements.length < this.batchSize) return;
    }
  }

  /** Publish and dispatch committed placements (a pass's, or a submit's own). */
  dispatchPlaced({ placements, events }: Placed, now: Date): void {
    if (events.length > 0) this.out.events(events);
    for (const p of placements) {
      this.metrics.dispatchLatency.observe(Math.max(0, now.getTime() - p.queuedAt.getTime()) / 1000);
      this.out.dispatch(p);
    }
  }

  /** Declare silent agents lost, end attempts whose lease or timeout ran out, and explain queued stages. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.clock.now();
      // While holding leases nothing is taken from an agent; reasons of queued stages are still given.
      const holding = this.config.holdOff?.() ?? false;
      if (!holding) await this.endExpired(now);
      this.pending ??= new PendingExplainer(
        this.db,
        {
          unschedulableTimeoutMs: this.config.unschedulableTimeoutMs ?? 600_000,
          silentAfterMs: this.config.leaseTtlMs / 2,
        },
        (events) => this.out.events(events),
        this.log,
      );
      // Not awaited: the next sweep (leases, lost agents) never waits for the reasons.
      void this.pending.maybeRun(now, holding);
      if (!holding) await this.pruneGoneAgents(now);
    } catch (err) {
      this.log.error({ err }, "sweep failed");
    } finally {
      this.sweeping = false;
    }
  }

  /** Delete agents gone for longer than the retention, at most once a minute (or once a retention, when shorter). */
  private async pruneGoneAgents(now: Date): Promise<void> {
    const retention = this.config.agentRetentionMs ?? 7 * 86_400_000;
    if (now.getTime() - this.prunedAt < Math.min(60_000, retention)) return;
    this.prunedAt = now.getTime();
    const pruned = await pruneAgents(this.db, now, retention);
    if (pruned.length > 0) this.log.info({ agents: pruned, retentionMs: retention }, "gone agents pruned");
  }

  /** Declare silent agents lost and end attempts whose lease or timeout ran out. */
  private async endExpired(now: Date): Promise<void> {
    const lost = await markLostAgents(this.liveDb, now, this.config.agentLostTimeoutMs);
    if (lost.length > 0) this.log.warn({ agentIds: lost }, "agents lost");
    // Timeouts first: a stage past its deadline on an agent that is also lost
    // ends as the timeout it is, not as "lost" (which would retry it).
    // A lost agent's attempts end only once their lease ran out too: the agent may run a stage
    // until its fence (before the lease TTL), and never after (see @dockyard/proto fence.ts).
    const ended = [
      ...(await expireAttempts(this.db, now, this.retryMarginMs)),
      ...(await loseAgentAttempts(this.db, lost, now, undefined, { leaseExpired: true })),
    ];
    this.afterEnded(ended, "server");
  }

  /** Publish the effects of ended attempts and tell their agents to stop. */
  afterEnded(ended: EndedAttempt[], by: "server" | "agent"): void {
    if (ended.length === 0) return;
    for (const e of ended) {
      this.metrics.attemptsEnded.inc({ outcome: e.attempt.state });
      observeStageDuration(this.metrics, e);
      // A server-run attempt has no agent to tell: its kind's cancel ran in the end's transaction.
      if (by === "server" && e.attempt.agentId !== SERVER_AGENT_ID)
        this.out.cancel(e.attempt.agentId, e.attempt.id, e.attempt.reason ?? e.attempt.state);
      this.out.events(e.events);
      if (by === "server")
        this.log.info(
          { attemptId: e.attempt.id, outcome: e.attempt.state, reason: e.attempt.reason },
          "attempt ended by server",
        );
    }
    if (ended.some((e) => e.childEnded)) this.out.childEnded?.();
    this.kick();
    this.out.kickOthers();
  }
}

/** Every attempt end passes here (agents', the server's, server kinds'): its run time, by kind and end state. */
function observeStageDuration(metrics: ServerMetrics, e: EndedAttempt): void {
  const { startedAt, assignedAt, finishedAt, state } = e.attempt;
  if (!finishedAt) return;
  const seconds = (finishedAt.getTime() - (startedAt ?? assignedAt).getTime()) / 1000;
  metrics.stageDuration.observe({ kind: e.stageType, result: state }, Math.max(0, seconds));
}
