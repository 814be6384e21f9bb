import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PlacementCache } from "./placement-cache";
import type { Placement } from "../store/claims";

const placement = (attemptId: string, at: Date): Placement => ({
  attemptId,
  leaseId: `lease-${attemptId}`,
  runId: "run",
  stageId: "stage",
  stageName: "build",
  attemptNumber: 1,
  agentId: "agent",
  spec: { image: null, commands: ["true"], env: {}, agent: {}, executor: null } as unknown as Placement["spec"],
  timeoutMs: 1000,
  queuedAt: at,
  agentName: "a1",
  assignedAt: at,
  leaseExpiresAt: new Date(at.getTime() + 15_000),
});

describe("placement cache", () => {
  it("opens a placed attempt once, for its own lease and agent only", () => {
    let now = 1_000;
    const cache = new PlacementCache(15_000, () => now);
    cache.remember(placement("x", new Date(now)));
    cache.remember(placement("y", new Date(now)));
    const opened = cache.take("x", "lease-x", "agent");
    assert.equal(opened?.attempt.state, "assigned");
    assert.equal(opened?.attempt.logSeq, 0);
    assert.equal(opened?.agentName, "a1");
    assert.equal(cache.take("x", "lease-x", "agent"), null, "taken once");
    assert.equal(cache.take("y", "other-lease", "agent"), null, "wrong lease falls back to the database");
    cache.remember(placement("z", new Date(now)));
    assert.equal(cache.take("z", "lease-z", "other-agent"), null, "wrong agent falls back to the database");
  });

  it("forgets placements older than the lease", () => {
    let now = 1_000;
    const cache = new PlacementCache(15_000, () => now);
    cache.remember(placement("old", new Date(now)));
    now += 15_001;
    assert.equal(cache.take("old", "lease-old", "agent"), null);
    cache.remember(placement("a", new Date(now)));
    now += 15_001;
    cache.remember(placement("b", new Date(now))); // expires "a" on the way
    assert.equal(cache.size, 1);
  });
});
