// RunEventsHub: one bus subscription per run, shared by its watchers, closed by the last one.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunEvent } from "@dockyard/proto";
import { RunEventsHub } from "./run-events-hub";

describe("RunEventsHub", () => {
  it("subscribes once per run, hands every watcher the same event, closes with the last watcher", () => {
    const subs = new Map<string, { onEvent: (e: RunEvent) => void; closed: boolean }>();
    let opened = 0;
    const hub = new RunEventsHub({
      watchRunEvents: (runId, onEvent) => {
        opened++;
        const sub = { onEvent, closed: false };
        subs.set(runId, sub);
        return { close: () => (sub.closed = true) };
      },
    });
    const got: [string, RunEvent][] = [];
    const a = hub.watchRunEvents("r1", (e) => got.push(["a", e]));
    const b = hub.watchRunEvents("r1", (e) => got.push(["b", e]));
    assert.equal(opened, 1, "one subscription for two watchers of one run");
    const event = { runId: "r1" } as RunEvent;
    subs.get("r1")!.onEvent(event);
    assert.deepEqual(
      got.map(([w]) => w),
      ["a", "b"],
    );
    assert.equal(got[0]![1], got[1]![1], "the same object");
    a.close();
    a.close(); // twice: harmless
    assert.equal(subs.get("r1")!.closed, false, "b still watches");
    b.close();
    assert.equal(subs.get("r1")!.closed, true, "closed with the last watcher");
    hub.watchRunEvents("r1", () => undefined);
    assert.equal(opened, 2, "a new watcher subscribes again");
  });
});
