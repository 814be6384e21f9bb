// Group commit for the agents' `succeeded` reports: while one batch is being
// written, the ends that arrive queue up and are written together next, in one
// transaction of three statements (end-succeeded.ts). A lone end is written at
// once, so grouping adds no wait when the server is idle. Other outcomes are
// rare and go one by one (retries, skips and cancels have their own paths).
import type { Db } from "./db";
import type { Clock } from "../clock";
import { withTx } from "./tx";
import { endSucceededMany, type SucceededEnd } from "./end-succeeded";
import { explainStale, finishAttempt } from "./attempts";
import type { EndedAttempt } from "./stage-flow";
import type { Outcome } from "../domain/states";
import type { StageOutputsRow } from "./schema";

/** Ends per transaction: bounds the statement size and the time locks are held. */
const MAX_BATCH = 64;

interface Waiting {
  end: SucceededEnd & { leaseId: string };
  resolve(ended: EndedAttempt): void;
  reject(err: unknown): void;
}

export class FinishQueue {
  private waiting: Waiting[] = [];
  private writing = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** Told the size of every batch written. */
    private readonly onBatch: (size: number) => void = () => undefined,
  ) {}

  /** End an attempt the agent reports under its lease; rejects with StaleLeaseError when that lease is not live. */
  finish(
    attemptId: string,
    leaseId: string,
    outcome: Outcome,
    exitCode: number | null,
    reason: string,
    outputs: StageOutputsRow | null = null,
  ): Promise<EndedAttempt> {
    if (outcome !== "succeeded")
      return finishAttempt(this.db, attemptId, leaseId, outcome, exitCode, reason, this.clock.now(), outputs);
    return new Promise((resolve, reject) => {
      this.waiting.push({ end: { attemptId, leaseId, exitCode, reason, outputs }, resolve, reject });
      void this.write();
    });
  }

  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        // An attempt at most once per batch (a resent report on a reopened stream can overlap
        // its first one): a later copy goes in the next batch, where it is stale.
        const batch: Waiting[] = [];
        const later: Waiting[] = [];
        const seen = new Set<string>();
        for (const w of this.waiting.splice(0, MAX_BATCH)) {
          if (seen.has(w.end.attemptId)) later.push(w);
          else {
            batch.push(w);
            seen.add(w.end.attemptId);
          }
        }
        this.waiting.unshift(...later);
        this.onBatch(batch.length);
        try {
          const results = await withTx(this.db, (tx) =>
            endSucceededMany(
              tx,
              batch.map((w) => w.end),
              this.clock.now(),
            ),
          );
          await Promise.all(
            batch.map(async (w, i) => {
              const ended = results[i];
              if (ended) w.resolve(ended);
              else w.reject(await explainStale(this.db, w.end.attemptId, w.end.leaseId));
            }),
          );
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
