// What this server just placed, so the agent's attempt stream can open without a
// query: in a single-server farm (and usually with replicas) the stream arrives
// at the server that placed the attempt, milliseconds later. A miss (another
// replica placed it, or the entry expired) falls back to the database. A hit is
// optimistic: if the attempt was ended meanwhile (cancel, lost), the next write,
// guarded by lease and state in SQL, is refused as stale.
import type { OpenedAttempt } from "../store/attempts";
import type { Placement } from "../store/claims";

interface Entry {
  opened: OpenedAttempt;
  placement: Placement;
  at: number;
}

export class PlacementCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  remember(p: Placement): void {
    this.expire();
    this.entries.set(p.attemptId, {
      at: this.now(),
      placement: p,
      opened: {
        attempt: {
          id: p.attemptId,
          stageId: p.stageId,
          runId: p.runId,
          number: p.attemptNumber,
          agentId: p.agentId,
          leaseId: p.leaseId,
          state: "assigned",
          leaseExpiresAt: p.leaseExpiresAt,
          deadlineAt: null,
          assignedAt: p.assignedAt,
          startedAt: null,
          finishedAt: null,
          exitCode: null,
          reason: null,
          logSeq: 0,
          serverState: null,
        },
        stageName: p.stageName,
        timeoutMs: p.timeoutMs,
        agentName: p.agentName,
      },
    });
  }

  /** The placement of an attempt on `agentId`, for its GetAssignment (the entry stays for the stream's open). */
  peek(attemptId: string, agentId: string): Placement | null {
    const e = this.entries.get(attemptId);
    if (!e || e.placement.agentId !== agentId || this.now() - e.at > this.ttlMs) return null;
    return e.placement;
  }

  /** The placement, once, if it names this lease and agent. */
  take(attemptId: string, leaseId: string, agentId: string): OpenedAttempt | null {
    const e = this.entries.get(attemptId);
    if (!e) return null;
    this.entries.delete(attemptId);
    const { attempt } = e.opened;
    if (attempt.leaseId !== leaseId || attempt.agentId !== agentId || this.now() - e.at > this.ttlMs) return null;
    return e.opened;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Entries are in insertion order, so the expired ones are at the front. */
  private expire(): void {
    const limit = this.now() - this.ttlMs;
    for (const [id, e] of this.entries) {
      if (e.at >= limit) return;
      this.entries.delete(id);
    }
  }
}
