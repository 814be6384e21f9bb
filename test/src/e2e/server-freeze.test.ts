// A frozen server does not punish its agents: SIGSTOP of the only server for 20 s and
// for 60 s while three shell stages run, then SIGCONT. The server notices its own stall
// and gives the agents a lease TTL to report in: no agent is declared lost, no lease
// expires, every stage ran once (one attempt, each step once, per its marker file) and
// the sampler never saw two copies. Positive control: with the grace after a stall
// turned off (a test-only setting), the 20 s freeze is seen as a stall and nothing is held.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { freezeServer } from "../helpers/fence-scenarios";

describe("a frozen server (SIGSTOP, then SIGCONT)", { concurrency: 3, timeout: 400_000 }, () => {
  for (const seconds of [20, 60]) {
    it(`frozen ${seconds} s: no agent lost, every stage ran once, each step once, never two copies`, async () => {
      const r = await freezeServer({ freezeMs: seconds * 1000 });
      const once = [{ state: "succeeded", agent: "sh", reason: "succeeded" }];
      assert.deepEqual(r.attempts, { a: once, b: once, c: once });
      assert.doesNotMatch(r.serverLogs[0]!, /"msg":"agents lost"/, "no agent was declared lost");
      const every = Array.from({ length: r.steps }, (_, i) => String(i + 1));
      assert.deepEqual(r.marks, { "a.1": every, "b.1": every, "c.1": every });
      assert.equal(r.sampler.overlapSamples, 0);
      // The agent did not fence: the frozen server was told apart from a cut link.
      assert.doesNotMatch(r.agentLogs.sh!, /lease not renewed within the fence/);
    });
  }

  it("positive control: the 20 s freeze is seen as a stall, and without the grace nothing is held", async () => {
    const r = await freezeServer({ freezeMs: 20_000, env: { DOCKYARD_STALL_GRACE: "false" } });
    // The detector sees the SIGSTOP (this is what grants the grace above). What the thawed server
    // then does without the grace races: its first sweep declares the agent lost and expires
    // leases unless the heartbeats and renewals that waited unread reach the database first
    // (often, now that lost agents' attempts end only with their lease). stall.test.ts shows the
    // hold-off itself, with and without the grace.
    assert.match(r.serverLogs[0]!, /"kind":"loop".*"msg":"server stalled; grace disabled \(test setting\)"/);
    const gap = Number(/"gapMs":(\d+),"kind":"loop"/.exec(r.serverLogs[0]!)?.[1]);
    assert.ok(gap >= 19_000, `the stall measured ${gap} ms`);
  });
});
