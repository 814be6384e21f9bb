import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decideAfterAttempt, deriveRunState, labelsMatch } from "./states";

describe("decideAfterAttempt", () => {
  const lostOnce = { count: 1, on: ["lost"] };
  it("finishes a successful attempt", () => {
    assert.deepEqual(decideAfterAttempt("succeeded", 1, lostOnce), { kind: "finish", state: "succeeded", reason: "" });
  });
  it("retries a lost attempt exactly once per allowed retry", () => {
    assert.deepEqual(decideAfterAttempt("lost", 1, lostOnce), { kind: "retry", reason: "lost" });
    assert.deepEqual(decideAfterAttempt("lost", 2, lostOnce), { kind: "finish", state: "lost", reason: "lost" });
  });
  it("does not retry outcomes the stage does not list", () => {
    assert.deepEqual(decideAfterAttempt("failed", 1, lostOnce), { kind: "finish", state: "failed", reason: "failed" });
  });
  it("ends a timeout as failed with reason timeout unless retried", () => {
    assert.deepEqual(decideAfterAttempt("timeout", 1, lostOnce), {
      kind: "finish",
      state: "failed",
      reason: "timeout",
    });
    assert.deepEqual(decideAfterAttempt("timeout", 1, { count: 2, on: ["timeout"] }), {
      kind: "retry",
      reason: "timeout",
    });
  });
  it("never retries a cancel", () => {
    assert.equal(decideAfterAttempt("canceled", 1, { count: 3, on: ["canceled"] }).kind, "finish");
  });
});

describe("deriveRunState", () => {
  it("is queued before anything starts and running after", () => {
    assert.equal(deriveRunState(["queued", "pending"], false), "queued");
    assert.equal(deriveRunState(["succeeded", "pending"], false), "running");
  });
  it("picks the worst terminal outcome", () => {
    assert.equal(deriveRunState(["succeeded", "succeeded"], false), "succeeded");
    assert.equal(deriveRunState(["succeeded", "failed", "skipped"], false), "failed");
    assert.equal(deriveRunState(["errored", "skipped"], false), "errored");
    // A skip fails nothing by itself: an approval that skipped itself, its dependents skipped or run.
    assert.equal(deriveRunState(["succeeded", "skipped", "skipped"], false), "succeeded");
    assert.equal(deriveRunState(["lost"], false), "failed");
    assert.equal(deriveRunState(["canceled", "failed"], false), "canceled");
  });
  it("is canceled as soon as a cancel was requested", () => {
    assert.equal(deriveRunState(["running"], true), "canceled");
  });
});

describe("labelsMatch", () => {
  it("requires every selector pair", () => {
    assert.equal(labelsMatch({ os: "linux" }, { os: "linux", arch: "x64" }), true);
    assert.equal(labelsMatch({ os: "linux", gpu: "1" }, { os: "linux" }), false);
    assert.equal(labelsMatch({}, {}), true);
  });
});
