// A partitioned agent, on a real network link, one agent per host: two agent hosts, each
// a network namespace whose one link (a veth pair) goes to the control host (servers,
// NATS; netns-farm.ts). The agent running a 30 s stage is cut off for 30 s, (a) with its
// veth down, (b) with an iptables DROP in its namespace (link up, packets lost). The
// other host's agent takes the retry. The copy sampler (every 0.25 s) must never see
// two copies; the cut-off copy's marker file stops before the retry's first line; the
// stage executes in full once; the run succeeds with attempt 1 lost. Positive control:
// with the agent's fence off (test-only DOCKYARD_AGENT_FENCE=off), the same DROP shows
// two copies at once (its stage runs 40 s, so the unfenced copy still runs when the server,
// which holds the retry until the copy must be dead, places it). Namespaces, veths, rules
// and processes go also when a case fails.
import { after, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../index";
import { leftovers } from "../helpers/netns";
import { stopFarms, type NetnsFarm } from "../helpers/netns-farm";
import { partitionAgent, PARTITION_STEPS, type PartitionResult } from "../helpers/netns-partition";

const STEPS = PARTITION_STEPS;
const farms: NetnsFarm[] = [];

// Stops what a case cancelled by its timeout left running, and checks that nothing is left.
after(() => stopFarms(farms));

function assertCleanedUp(r: PartitionResult): Promise<unknown> {
  assert.deepEqual(
    r.presentWhileUp.sort(),
    r.hosts.flatMap((h) => [h.name, h.rootVeth]).sort(),
    "the leftover check sees our namespaces while they exist",
  );
  return waitFor(() => leftovers(r.hosts).length === 0, {
    message: `${r.hosts.map((h) => h.name).join(", ")} and their veth pairs gone`,
    timeoutMs: 20_000,
  });
}

/** Each agent ran in its own host's namespace. */
function assertOnePerHost(r: PartitionResult): void {
  assert.deepEqual(r.agentNamespaces, { cut: r.hosts[0]!.name, other: r.hosts[1]!.name });
}

describe(
  "an agent partitioned from the control host for 30 s, one agent per host",
  { concurrency: 3, timeout: 300_000 },
  () => {
    for (const cut of ["link-down", "drop"] as const) {
      it(`${cut}: the cut-off copy stops before the retry starts elsewhere; never two copies; one full execution`, async (t: TestContext) => {
        const r = await partitionAgent({ cut, fence: "on", farms });
        t.diagnostic(
          `cut-off copy: ${r.executions.counts.s?.[1]} lines; retry started ${r.executions.gapsMs.s?.[0]} ms after its last`,
        );
        const info = JSON.stringify({ attempts: r.attempts, executions: r.executions, sampler: r.sampler });
        assert.equal(r.state, "succeeded", info);
        assertOnePerHost(r);
        assert.deepEqual(
          r.attempts.map((a) => [a.stage, a.number, a.state, a.agent]),
          [
            ["s", 1, "lost", "cut"],
            ["s", 2, "succeeded", "other"],
          ],
          info,
        );
        assert.equal(r.sampler.overlapSamples, 0, info);
        assert.equal(r.sampler.seen.s?.length, 2, `the sampler saw both copies, one after the other: ${info}`);
        const counts = r.executions.counts.s!;
        assert.ok(counts[1]! > 0 && counts[1]! < STEPS, `the cut-off copy was stopped part way: ${info}`);
        assert.equal(counts[2], STEPS, "the retry executed every line");
        assert.ok(
          r.executions.gapsMs.s![0]! > 0,
          `the cut-off copy's last line came before the retry's first: ${info}`,
        );
        assert.equal(r.executions.doubleExecutions, 0);
        assert.match(
          r.cutAgentLog,
          /lease not renewed within the fence; stopping the stage/,
          "the cut agent says it fenced the stage",
        );
        await assertCleanedUp(r);
      });
    }

    it("positive control: with the fence off, an iptables DROP shows two copies at once", async (t: TestContext) => {
      const r = await partitionAgent({ cut: "drop", fence: "off", farms, steps: 80 });
      t.diagnostic(`two copies for ${r.sampler.overlapMs} ms; lines executed twice: ${r.executions.linesTwice}`);
      const info = JSON.stringify({ attempts: r.attempts, executions: r.executions, sampler: r.sampler });
      assertOnePerHost(r);
      assert.ok(r.sampler.overlapSamples > 0, `two copies seen together: ${info}`);
      assert.deepEqual(r.sampler.maxCopies, { s: 2 }, info);
      assert.ok(
        r.executions.gapsMs.s![0]! < 0,
        `the retry's first line came while the cut-off copy still executed: ${info}`,
      );
      await assertCleanedUp(r);
    });
  },
);
