// A frozen server does not punish its agents: SIGSTOP of the only server for 20 s and
// for 60 s while three shell stages run, then SIGCONT. The server notices its own stall
// and gives the agents a lease TTL to report in: no agent is declared lost, no lease
// expires, every stage ran once (one attempt, each step once, per its marker file) and
// the sampler never saw two copies. Positive control: with the grace after a stall
// turned off (a test-only setting), the same 20 s freeze declares the agent lost.
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

  it("positive control: without the grace after a stall, a 20 s freeze punishes the agent", async () => {
    const r = await freezeServer({ freezeMs: 20_000, env: { DOCKYARD_STALL_GRACE: "false" } });
    // Its first sweep after the thaw declares the agent lost (its heartbeats waited unread). The
    // stages may survive even so: a lost agent's attempts end only with their lease, and the
    // renewals that waited unread often reach the database first.
    assert.match(r.serverLogs[0]!, /"msg":"agents lost"/, "the agent was declared lost");
  });
});
