import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { timeLeftText, waitingReason, withTimeLeft, withWaitingReasons } from "./waiting-reason";

describe("waitingReason", () => {
  it("names the needs that have not succeeded, capped", () => {
    const states = new Map([
      ["build", "succeeded"],
      ["test", "running"],
    ]);
    assert.equal(
      waitingReason(["build", "test", "lint"], (n) => states.get(n)),
      "waiting for test, lint",
    );
    assert.equal(
      waitingReason(["build"], (n) => states.get(n)),
      "",
    );
    assert.equal(
      waitingReason(["a", "b", "c", "d", "e", "f", "g"], () => undefined),
      "waiting for a, b, c, d, e and 2 more",
    );
  });

  it("fills in pending stages only, keeping a stored reason", () => {
    const stages = [
      { name: "build", state: "queued", reason: "1 matching agent is full (1/1)", needs: [] },
      { name: "deploy", state: "pending", reason: null, needs: ["build"] },
      { name: "skip", state: "skipped", reason: "a needed stage did not succeed", needs: ["build"] },
    ];
    assert.deepEqual(
      withWaitingReasons(stages).map((s) => s.reason),
      ["1 matching agent is full (1/1)", "waiting for build", "a needed stage did not succeed"],
    );
  });
});

describe("withTimeLeft", () => {
  const now = new Date("2026-12-06T14:00:00Z");
  const waiting = (deadline: string | null, state = "running") => ({
    state,
    reason: "waiting for approval by alice until 14:11 UTC (in 11m); decide with: dockyard approve p#1 gate",
    attemptHistory: [{ deadline }],
  });
  it("puts the time left now into a waiting approval's reason, from its stored deadline", () => {
    assert.equal(
      withTimeLeft([waiting("2026-12-06T14:04:30Z")], now)[0]!.reason,
      "waiting for approval by alice until 14:11 UTC (in 5m); decide with: dockyard approve p#1 gate",
    );
    assert.match(
      withTimeLeft([waiting("2026-12-06T13:00:00Z")], now)[0]!.reason!,
      /\(in 0s\)/,
      "an overdue deadline: 0s, never negative",
    );
  });
  it("leaves other stages as they are", () => {
    for (const s of [waiting(null), waiting("2026-12-06T14:04:30Z", "succeeded")])
      assert.equal(withTimeLeft([s], now)[0], s);
  });
  it("writes durations short", () => {
    assert.deepEqual([40_000, 11 * 60_000, 125 * 60_000, 76 * 3_600_000].map(timeLeftText), [
      "40s",
      "11m",
      "2h5m",
      "3d4h",
    ]);
  });
});
