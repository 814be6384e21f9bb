// Renewals reach a live replica: two replicas, the one the agent streams to frozen
// (SIGSTOP) for 45 s while three shell stages run, the other up. The agent's renewals
// go unanswered, it moves its stream to the live replica, which renews the leases: no
// lease expires, every stage ran once (one attempt, each step once, per its marker
// file) and the sampler never saw two copies of a stage.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { freezeServer } from "../helpers/fence-scenarios";

describe("the agents' replica frozen for 45 s, the other up", { timeout: 300_000 }, () => {
  it("moves the renewals to the live replica: no lease expires, every stage ran once, never two copies", async () => {
    const r = await freezeServer({ freezeMs: 45_000, replicas: 2, frozen: 0 });
    const once = [{ state: "succeeded", agent: "sh", reason: "succeeded" }];
    assert.deepEqual(r.attempts, { a: once, b: once, c: once });
    const every = Array.from({ length: r.steps }, (_, i) => String(i + 1));
    assert.deepEqual(r.marks, { "a.1": every, "b.1": every, "c.1": every });
    assert.equal(r.sampler.overlapSamples, 0);
    assert.match(r.agentLogs.sh!, /lease renewal unanswered; moving to another replica/, "the agent moved its stream");
    assert.doesNotMatch(r.agentLogs.sh!, /lease not renewed within the fence/);
    assert.doesNotMatch(r.serverLogs[1]!, /lease expired/, "the live replica expired no lease");
  });
});
