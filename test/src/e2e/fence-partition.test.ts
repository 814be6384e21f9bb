// The agent fences itself: an agent cut off from a live server for 30 s (iptables DROP of
// its server's port and of its own way to NATS, both ways; or, run in its own network
// namespace, the host side of its veth pair down) stops its stage before
// the server gives the stage to another agent: the sampler never sees two copies, and
// the cut-off copy executed only part of its steps. Positive control: with the fence
// turned off (the test-only DOCKYARD_AGENT_FENCE=off) the same cut shows two copies.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cutAgentOff } from "../helpers/fence-scenarios";

const CUT_MS = 30_000;

describe("an agent cut off from a live server for 30 s", { concurrency: 3, timeout: 400_000 }, () => {
  for (const how of ["iptables", "veth"] as const) {
    it(`${how === "veth" ? "veth down (its own network namespace)" : "iptables DROP"}: it stops its own stage before the server retries it elsewhere, never two copies`, async () => {
      const r = await cutAgentOff({ fence: "on", cutMs: CUT_MS, how });
      assert.deepEqual(
        r.attempts.s?.map((a) => [a.state, a.agent]),
        [
          ["lost", "cut"],
          ["succeeded", "other"],
        ],
        JSON.stringify(r.attempts),
      );
      assert.equal(r.sampler.overlapSamples, 0, `two copies alive in ${r.sampler.overlapSamples} samples`);
      assert.deepEqual(r.sampler.maxCopies, { s: 1 });
      assert.equal(r.sampler.seen.s?.length, 2, "the sampler saw both attempts, one after the other");
      const first = r.marks["s.1"] ?? [];
      assert.ok(
        first.length > 0 && first.length < r.steps,
        `the cut-off copy was stopped part way (${first.length}/${r.steps} steps)`,
      );
      assert.equal(r.marks["s.2"]?.length, r.steps, "the retry ran every step");
      assert.match(r.agentLogs.cut!, /lease not renewed within the fence; stopping the stage/);
      assert.match(r.agentLogs.cut!, /"why":"fenced"/, "killed by its supervisor");
    });
  }

  it("positive control: with the fence off, the sampler sees two copies at once", async () => {
    const r = await cutAgentOff({ fence: "off", cutMs: CUT_MS });
    assert.ok(r.sampler.overlapSamples > 0, `no overlap seen: ${JSON.stringify(r.sampler)}`);
    assert.deepEqual(r.sampler.maxCopies, { s: 2 });
  });
});
