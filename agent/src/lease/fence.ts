// The agent fences itself: an attempt whose lease it could not renew for its fence
// (a share of the lease TTL, see @dockyard/proto fence.ts) is stopped, before the
// server can give its stage to another agent, so two copies never run at once.
//
// Each attempt has a safe point: the latest moment from which no server can give its
// stage away for a lease TTL. A renewal the server acknowledged sets it to the moment
// the renewal was sent (the server stamps it later). So does a moment at which every
// replica was shown unable to give anything away (farm-probe.ts): nothing listens
// (refused), its event loop stands still (frozen), or it answered that it holds every
// lease because a dependency is down (held); a server coming out of any of these waits
// a lease TTL before it expires a lease. Without such evidence (a cut link looks like
// silence) the fence runs out and the attempt is stopped: a server outage keeps stages
// running, an agent cut off from a live server stops its own.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { PROBE_AFTER_OVERDUE_MS } from "@dockyard/proto";
import { probeReplica, type ProbeVerdict } from "./farm-probe";

/** How often attempts are checked against their fence. */
const CHECK_MS = 100;
/** Probe rounds start at most this often while some renewal is overdue (several may be in flight). */
const ROUND_EVERY_MS = 1000;
const MAX_ROUNDS_IN_FLIGHT = 3;
/** A check later than this means this agent stood still itself: its supervisor's word (already sent) comes first. */
const SELF_STALL_MS = 1000;

export interface FenceOptions {
  /** Every replica's address (the agent's server list). */
  servers: string[];
  /** false: never stop anything (DOCKYARD_AGENT_FENCE=off, only for tests: the positive control). */
  enabled: boolean;
  log: Logger;
  /** Monotonic ms (tests inject one). */
  now?: () => number;
  probe?: (address: string) => Promise<ProbeVerdict>;
}

/** One attempt under the fence, from `track` to `untrack` (or until it fired). */
export interface FencedAttempt {
  /** A renewal sent at `sentAt` (this fence's clock) was acknowledged. */
  renewed(sentAt: number): void;
  /** The server at `address` answered that it holds every lease, for a report sent at `sentAt`. */
  held(address: string, sentAt: number): void;
  untrack(): void;
}

interface Tracked {
  attemptId: string;
  ttlMs: number;
  fenceMs: number;
  /** Latest acknowledged renewal's sending (or the start). */
  renewedAt: number;
  onFence: (silentMs: number) => void;
}

/**
 * Agent-wide: `start` once, `track` each attempt when its process starts (any number
 * concurrently), `stop` when the agent stops. `onFence` runs once, on the fence's timer;
 * the caller stops the attempt (and reports it `lost`).
 */
export class LeaseFence {
  private readonly tracked = new Map<string, Tracked>();
  /** Per replica: the latest moment it was shown unable to give a stage away. */
  private readonly evidence = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private lastCheck: number;
  private lastRound = -Infinity;
  private rounds = 0;
  readonly now: () => number;
  private readonly probe: (address: string) => Promise<ProbeVerdict>;

  constructor(private readonly options: FenceOptions) {
    this.now = options.now ?? (() => performance.now());
    this.probe = options.probe ?? ((a) => probeReplica(a));
    this.lastCheck = this.now();
  }

  start(): void {
    if (!this.options.enabled)
      this.options.log.warn(
        "lease fence disabled (DOCKYARD_AGENT_FENCE=off): a cut-off agent keeps running its stages",
      );
    this.timer ??= setInterval(() => this.check(), CHECK_MS).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tracked.clear();
  }

  track(
    attemptId: string,
    lease: { ttlMs: number; fenceMs: number },
    onFence: (silentMs: number) => void,
  ): FencedAttempt {
    // Until the first acknowledged renewal: from now, the moment the assignment reached us (the
    // server stamped the lease at placement, a dispatch latency earlier: inside the margin).
    const t: Tracked = { attemptId, ...lease, renewedAt: this.now(), onFence };
    this.tracked.set(attemptId, t);
    return {
      renewed: (sentAt) => {
        t.renewedAt = Math.max(t.renewedAt, sentAt);
      },
      held: (address, sentAt) => this.record(address, sentAt),
      untrack: () => {
        if (this.tracked.get(attemptId) === t) this.tracked.delete(attemptId);
      },
    };
  }

  /** The latest moment from which no replica can give a stage away (−Infinity: no evidence for some replica). */
  quietSince(): number {
    let quiet = Infinity;
    for (const s of this.options.servers) quiet = Math.min(quiet, this.evidence.get(s) ?? -Infinity);
    return quiet;
  }

  /** Check every attempt against its fence, and probe the servers while a renewal is overdue. Public for tests. */
  check(): void {
    const now = this.now();
    const selfStalled = now - this.lastCheck > SELF_STALL_MS;
    this.lastCheck = now;
    const quiet = this.quietSince();
    let overdue = false;
    for (const t of [...this.tracked.values()]) {
      const safe = Math.max(t.renewedAt, quiet);
      const silent = now - safe;
      if (now - t.renewedAt > t.ttlMs / 4 + PROBE_AFTER_OVERDUE_MS) overdue = true;
      if (silent <= t.fenceMs || !this.options.enabled || selfStalled) continue;
      this.tracked.delete(t.attemptId);
      this.options.log.warn(
        { attemptId: t.attemptId, silentMs: Math.round(silent), fenceMs: t.fenceMs },
        "lease not renewed within the fence; stopping the stage",
      );
      t.onFence(Math.round(silent));
    }
    if (overdue && now - this.lastRound >= ROUND_EVERY_MS && this.rounds < MAX_ROUNDS_IN_FLIGHT) void this.round(now);
  }

  private record(address: string, at: number): void {
    this.evidence.set(address, Math.max(this.evidence.get(address) ?? -Infinity, at));
  }

  /** Probe every replica; those refused or frozen are evidence as of the round's start. */
  private async round(startedAt: number): Promise<void> {
    this.lastRound = startedAt;
    this.rounds++;
    try {
      const verdicts = await Promise.all(this.options.servers.map(async (s) => [s, await this.probe(s)] as const));
      for (const [s, v] of verdicts) if (v === "refused" || v === "frozen") this.record(s, startedAt);
      this.options.log.debug({ verdicts: Object.fromEntries(verdicts) }, "servers probed");
    } finally {
      this.rounds--;
    }
  }
}
