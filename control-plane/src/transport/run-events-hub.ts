// One NATS subscription per run per process, shared by every watcher of that run here: each
// message is opened and decoded once, and all watchers get the same RunEvent object (which
// lets the SSE edge encode it once). 200 browsers following one run cost one subscription.
//
// A busy run's events are handed on at most once per `windowMs` (a throttle, not a delay: an event
// after a quiet window goes at once; the ones behind it within the window go together at its end).
// Handed on together, each watcher's writes of them fall in one socket write (Node corks a response
// for the rest of the tick): for 200 SSE clients that is 200 writes per window, not 200 per event.
import type { RunEvent } from "@dockyard/proto";

/** What watchRun needs of the bus: live events of one run until `close`. */
export interface RunEventSource {
  watchRunEvents(runId: string, onEvent: (e: RunEvent) => void): { close(): void };
}

interface RunEntry {
  sub: { close(): void };
  watchers: Set<(e: RunEvent) => void>;
  /** Events that came while the window was open, handed on at its end. */
  held: RunEvent[];
  /** Set while a window is open. */
  timer: ReturnType<typeof setTimeout> | null;
}

/** The default window: short against the lag a person sees, long against a busy run's event rate. */
export const HUB_WINDOW_MS = 15;

export class RunEventsHub implements RunEventSource {
  private readonly runs = new Map<string, RunEntry>();

  constructor(
    private readonly bus: RunEventSource,
    private readonly windowMs = HUB_WINDOW_MS,
  ) {}

  watchRunEvents(runId: string, onEvent: (e: RunEvent) => void): { close(): void } {
    let entry = this.runs.get(runId);
    if (!entry) {
      const created: RunEntry = { sub: { close: () => undefined }, watchers: new Set(), held: [], timer: null };
      created.sub = this.bus.watchRunEvents(runId, (e) => this.arrived(created, e));
      entry = created;
      this.runs.set(runId, entry);
    }
    const mine = entry;
    mine.watchers.add(onEvent);
    return {
      close: () => {
        if (!mine.watchers.delete(onEvent) || mine.watchers.size > 0) return;
        mine.sub.close();
        if (mine.timer) clearTimeout(mine.timer);
        mine.timer = null;
        mine.held = [];
        if (this.runs.get(runId) === mine) this.runs.delete(runId);
      },
    };
  }

  private arrived(entry: RunEntry, e: RunEvent): void {
    if (entry.timer) {
      entry.held.push(e);
      return;
    }
    this.handOn(entry, [e]);
    if (this.windowMs > 0) this.openWindow(entry);
  }

  private openWindow(entry: RunEntry): void {
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (entry.held.length === 0) return; // a quiet window: the next event goes at once
      const held = entry.held;
      entry.held = [];
      this.handOn(entry, held);
      this.openWindow(entry);
    }, this.windowMs);
    entry.timer.unref();
  }

  private handOn(entry: RunEntry, events: RunEvent[]): void {
    for (const e of events) for (const w of entry.watchers) w(e);
  }
}
