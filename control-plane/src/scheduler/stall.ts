// The server noticing its own stall: a SIGSTOP, a long GC pause, a VM that was
// suspended, CPU starvation. While the server stood still its agents' renewals and
// heartbeats queued up unread, so the leases and heartbeat times in the database
// look stale through no fault of the agents. A stall is a gap between two beats of
// the server's own event loop (monotonic clock) longer than STALL_MS, or a jump of
// the wall clock (which leases are stamped with) away from the monotonic one.
import { performance } from "node:perf_hooks";
import { SERVER_STALL_MS } from "@dockyard/proto";

/**
 * A gap between beats longer than this is a stall (a beat comes every STALL_BEAT_MS while the
 * loop runs). Shorter than an agent's probe timeout: a server that an agent's probe finds
 * silent (and so does not fence for) is sure to notice the stall when it thaws.
 */
export const STALL_MS = SERVER_STALL_MS;
/** How often the loop beats (a timer: a blocked or stopped loop beats late). */
export const STALL_BEAT_MS = 250;

export interface Stall {
  /** How long the loop stood still (or how far the wall clock jumped), in ms. */
  gapMs: number;
  kind: "loop" | "wall-clock";
}

/**
 * Call `beat()` from a timer and before any decision that a stall would make wrong
 * (the sweep): it returns the stall that ended just now, if any. Synchronous and cheap.
 * `mono` and `wall` are injectable for tests.
 */
export class StallDetector {
  private lastMono: number;
  private lastWall: number;

  constructor(
    private readonly stallMs = STALL_MS,
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = () => performance.now(),
  ) {
    this.lastMono = mono();
    this.lastWall = wall();
  }

  beat(): Stall | null {
    const mono = this.mono();
    const wall = this.wall();
    const gap = mono - this.lastMono;
    const wallGap = wall - this.lastWall;
    this.lastMono = mono;
    this.lastWall = wall;
    if (gap > this.stallMs) return { gapMs: Math.round(gap), kind: "loop" };
    // Leases are stamped and compared with the wall clock: a step of it (NTP, a restored
    // VM) expires them early as surely as a stall does.
    if (Math.abs(wallGap - gap) > this.stallMs) return { gapMs: Math.round(wallGap - gap), kind: "wall-clock" };
    return null;
  }
}
