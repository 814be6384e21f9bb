// Gives every stage that waits in the queue the reason it waits, and ends as
// `errored` the ones no registered agent could ever run once they have waited
// DOCKYARD_UNSCHEDULABLE_TIMEOUT_MS. Runs from the scheduler's sweep, at most
// once per interval, beside (never inside) the claim and placement statements.
import type { Logger } from "pino";
import type { Db } from "../store/db";
import {
  errorQueuedStage,
  readAgentsForReasons,
  readQueuedForReasons,
  writeQueuedReasons,
  type QueuedForReason,
} from "../store/pending";
import type { RunEventRecord } from "../store/events";
import { explainPending, type PendingExplanation } from "./pending-reasons";

export interface PendingExplainerOptions {
  /** A stage that cannot be placed anywhere ends as errored after waiting this long. */
  unschedulableTimeoutMs: number;
  /**
   * An online agent not heard from for this long is not placed on (claims.ts onlineAgentsCte): it shows as not
   * responding.
   */
  silentAfterMs: number;
  /** Stages queued for less than this are left alone: most are placed within milliseconds. Default 1 s. */
  minQueuedMs?: number;
  /**
   * A stage that waits only for a slot on an online matching agent (full agents, a backlog)
   * gets its reason once it has waited this long. Default 5 s: a burst of stages waiting a
   * few seconds for slots is the farm at work, and explaining each one would add a write
   * and an event to every stage exactly when the farm is busiest.
   */
  slotQueuedMs?: number;
  /** Passes closer together than this are skipped. Default 1 s. */
  intervalMs?: number;
  /** Stages looked at per pass, oldest first. Default 5000. */
  limit?: number;
}

export interface PendingPass {
  /** Stages whose reason changed (one `stage` event each). */
  explained: number;
  /** Stages ended as errored: unschedulable for longer than the timeout. */
  errored: number;
}

/**
 * `maybeRun` is single-flight (a call while a pass runs is skipped); any number of replicas may run one each: writes
 * are guarded by the stage's state and
 * current reason, so they neither repeat events nor touch a stage placed meanwhile.
 */
export class PendingExplainer {
  private lastPassAt = -Infinity;
  private running = false;

  constructor(
    private readonly db: Db,
    private readonly options: PendingExplainerOptions,
    private readonly publish: (events: RunEventRecord[]) => void,
    private readonly log: Logger,
  ) {}

  /**
   * Run a pass unless one runs now or started less than `intervalMs` ago; null when skipped
   * or failed. Never throws: failures are logged. While `holding` (the server holds leases:
   * after a start, an outage or a stall of its own, agents may not have reported yet) stages
   * are explained but none is ended as unschedulable.
   */
  async maybeRun(now: Date, holding = false): Promise<PendingPass | null> {
    if (this.running || now.getTime() - this.lastPassAt < (this.options.intervalMs ?? 1000)) return null;
    this.lastPassAt = now.getTime();
    this.running = true;
    try {
      return await this.run(now, holding);
    } catch (err) {
      this.log.error({ err }, "explaining queued stages failed");
      return null;
    } finally {
      this.running = false;
    }
  }

  /**
   * One pass. Costs one indexed read when no stage has waited for a second; otherwise a
   * second read (the agents), one decision per distinct requirement and, per run whose
   * stages' reasons changed, one short transaction that never waits for a lock.
   */
  async run(now: Date, holding = false): Promise<PendingPass> {
    const queued = await readQueuedForReasons(
      this.db,
      new Date(now.getTime() - (this.options.minQueuedMs ?? 1000)),
      this.options.limit ?? 5000,
    );
    if (queued.length === 0) return { explained: 0, errored: 0 };
    const agents = await readAgentsForReasons(this.db, new Date(now.getTime() - this.options.silentAfterMs));
    const byRun = new Map<string, { stageId: string; reason: string }[]>();
    const doomed: { stage: QueuedForReason; reason: string }[] = [];
    // Stages of one pipeline mostly ask the same: decide once per distinct requirement.
    const decided = new Map<string, PendingExplanation>();
    for (const stage of queued) {
      const key = JSON.stringify([
        Object.entries(stage.selector).sort(),
        stage.requires,
        [...stage.avoid].sort(),
        stage.pinned ?? null,
      ]);
      let why = decided.get(key);
      if (!why) decided.set(key, (why = explainPending(stage, agents)));
      if (
        !holding &&
        why.unschedulable &&
        now.getTime() - stage.queuedAt.getTime() >= this.options.unschedulableTimeoutMs
      ) {
        doomed.push({ stage, reason: why.reason });
        continue;
      }
      if (why.reason === stage.reason) continue;
      if (why.forSlot && now.getTime() - stage.queuedAt.getTime() < (this.options.slotQueuedMs ?? 5000)) continue;
      // A backlog on agents with room clears by itself: keep a reason the stage already has.
      if (why.transient && stage.reason) continue;
      const list = byRun.get(stage.runId) ?? [];
      list.push({ stageId: stage.id, reason: why.reason });
      byRun.set(stage.runId, list);
    }
    let explained = 0;
    for (const [runId, updates] of byRun) {
      const events = await writeQueuedReasons(this.db, runId, updates, now);
      explained += events.length;
      this.publish(events);
    }
    let errored = 0;
    for (const { stage, reason } of doomed) {
      const events = await errorQueuedStage(this.db, stage.id, reason, now);
      if (events.length === 0) continue;
      errored++;
      this.publish(events);
      this.log.warn({ runId: stage.runId, stageId: stage.id, reason }, "stage unschedulable");
    }
    return { explained, errored };
  }
}
