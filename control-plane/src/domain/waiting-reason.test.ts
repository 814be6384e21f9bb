import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { waitingReason, withWaitingReasons } from "./waiting-reason";

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
