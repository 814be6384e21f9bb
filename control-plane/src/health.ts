// What the server depends on (Postgres, NATS), probed every half second with a
// 1 s timeout: for /readyz, and for the grace period that keeps the server from
// punishing agents for its own outages. While a dependency is down, and for one
// lease TTL after the server starts or a dependency comes back, no lease is
// expired and no agent is declared lost: agents that kept running get the time
// to reach the server, renew and replay what they finished meanwhile. The same
// grace follows a stall of the server itself (see scheduler/stall.ts): agents
// whose reports it could not read while it stood still are not punished for it.
import type { Logger } from "pino";
import { STALL_BEAT_MS, StallDetector } from "./scheduler/stall";

/** Longest a probe may take before it counts as failed. */
export const PROBE_TIMEOUT_MS = 1000;

export type Probe = () => Promise<unknown>;

export interface Readiness {
  ok: boolean;
  checks: Record<string, string>;
}

async function probe(fn: Probe): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return "ok";
  } catch (err) {
    return (err as Error).message.slice(0, 200) || "failed";
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthOptions {
  /** false turns the grace after a stall off: only for tests (the positive control of the stall test). */
  stallGrace?: boolean;
  /** Injectable stall detector (tests). */
  stall?: StallDetector;
}

export class DependencyHealth {
  private readonly down = new Map<string, string>();
  private graceUntil: number;
  private timer: NodeJS.Timeout | null = null;
  private beatTimer: NodeJS.Timeout | null = null;
  private probing = false;
  private readonly stall: StallDetector;

  constructor(
    private readonly probes: Record<string, Probe>,
    /** How long agents get to report in (one lease TTL). */
    private readonly graceMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly options: HealthOptions = {},
  ) {
    this.graceUntil = now() + graceMs;
    this.stall = options.stall ?? new StallDetector(undefined, now);
  }

  start(intervalMs = 500): void {
    this.timer = setInterval(() => void this.tick(), intervalMs).unref();
    this.beatTimer = setInterval(() => this.stalled(), STALL_BEAT_MS).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.beatTimer) clearInterval(this.beatTimer);
    this.timer = null;
    this.beatTimer = null;
  }

  /** True while leases must not expire and agents must not be declared lost. */
  holdOff(): boolean {
    // Checked here too, not only on the beat: after a stall the sweep's timer may fire before the beat's.
    this.stalled();
    return this.down.size > 0 || this.now() < this.graceUntil;
  }

  /** True while a dependency is down: nothing is given away now, and for a lease TTL after it is back. */
  dependencyDown(): boolean {
    return this.down.size > 0;
  }

  /**
   * Whether the server just came out of a stall (its loop stood still, or the wall clock
   * jumped); if so, agents get the same lease TTL to report in as after a start.
   */
  stalled(): boolean {
    const stall = this.stall.beat();
    if (!stall) return false;
    if (this.options.stallGrace === false) {
      this.log.warn({ ...stall }, "server stalled; grace disabled (test setting)");
      return true;
    }
    this.graceUntil = Math.max(this.graceUntil, this.now() + this.graceMs);
    this.log.warn({ ...stall, graceMs: this.graceMs }, "server stalled; agents get a lease TTL to report in");
    return true;
  }

  /** Probe everything now (for /readyz): each check is "ok" or why it failed. */
  async ready(): Promise<Readiness> {
    const names = Object.keys(this.probes);
    const results = await Promise.all(names.map((n) => probe(this.probes[n]!)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]!]));
    return { ok: results.every((r) => r === "ok"), checks };
  }

  private async tick(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const { checks } = await this.ready();
      for (const [name, result] of Object.entries(checks)) {
        if (result !== "ok" && !this.down.has(name)) {
          this.down.set(name, result);
          this.log.error({ dependency: name, reason: result }, "dependency down; leases are held until it is back");
        } else if (result === "ok" && this.down.has(name)) {
          this.down.delete(name);
          this.graceUntil = Math.max(this.graceUntil, this.now() + this.graceMs);
          this.log.warn(
            { dependency: name, graceMs: this.graceMs },
            "dependency back; agents get a lease TTL to report in",
          );
        }
      }
    } finally {
      this.probing = false;
    }
  }
}
