// One NATS subscription per run per process, shared by every watcher of that run here: each
// message is opened and decoded once, and all watchers get the same RunEvent object (which
// lets the SSE edge encode it once). 200 browsers following one run cost one subscription.
import type { RunEvent } from "@dockyard/proto";

/** What watchRun needs of the bus: live events of one run until `close`. */
export interface RunEventSource {
  watchRunEvents(runId: string, onEvent: (e: RunEvent) => void): { close(): void };
}

export class RunEventsHub implements RunEventSource {
  private readonly runs = new Map<string, { sub: { close(): void }; watchers: Set<(e: RunEvent) => void> }>();

  constructor(private readonly bus: RunEventSource) {}

  watchRunEvents(runId: string, onEvent: (e: RunEvent) => void): { close(): void } {
    let entry = this.runs.get(runId);
    if (!entry) {
      const watchers = new Set<(e: RunEvent) => void>();
      const sub = this.bus.watchRunEvents(runId, (e) => {
        for (const w of watchers) w(e);
      });
      entry = { sub, watchers };
      this.runs.set(runId, entry);
    }
    const mine = entry;
    mine.watchers.add(onEvent);
    return {
      close: () => {
        if (!mine.watchers.delete(onEvent) || mine.watchers.size > 0) return;
        mine.sub.close();
        if (this.runs.get(runId) === mine) this.runs.delete(runId);
      },
    };
  }
}
