// A partitioned docker agent, on a real network link, one agent per host: two docker
// hosts, each a network namespace with its own Docker engine in it and one link to the
// control host (netns-farm.ts). The agent whose container runs a 30 s stage is cut off for
// 30 s by an iptables DROP; the other host's agent takes the retry on its own engine. The
// copy sampler sees the containers by label on both engines every 0.25 s: never two, and
// the cut-off container gone before the retry's appeared. The positive control for this
// sampler path is the shell file's (the same scenario, fence off) plus the sampler seeing
// both containers here, one after the other, each on its host's engine.
import { after, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../index";
import { leftovers } from "../helpers/netns";
import { stopFarms, type NetnsFarm } from "../helpers/netns-farm";
import { partitionAgent } from "../helpers/netns-partition";

const farms: NetnsFarm[] = [];

// Stops what a case cancelled by its timeout left running, and checks that nothing is left.
after(() => stopFarms(farms));

describe(
  "a docker agent partitioned from the control host for 30 s, one agent and one engine per host",
  { timeout: 300_000 },
  () => {
    it("drop: its container is stopped before the retry's container starts; never two copies", async (t: TestContext) => {
      const r = await partitionAgent({ cut: "drop", fence: "on", farms, executor: "docker" });
      const info = JSON.stringify({ attempts: r.attempts, sampler: r.sampler });
      assert.equal(r.state, "succeeded", info);
      assert.deepEqual(r.agentNamespaces, { cut: r.hosts[0]!.name, other: r.hosts[1]!.name });
      assert.deepEqual(
        r.attempts.map((a) => [a.number, a.state, a.agent]),
        [
          [1, "lost", "cut"],
          [2, "succeeded", "other"],
        ],
        info,
      );
      assert.deepEqual(
        r.engineAttempts,
        { cut: [r.attempts[0]!.id], other: [r.attempts[1]!.id] },
        "each container ran on its host's own engine",
      );
      assert.equal(r.sampler.overlapSamples, 0, info);
      const first = r.sampler.spans[r.attempts[0]!.id];
      const retry = r.sampler.spans[r.attempts[1]!.id];
      assert.ok(first && retry, `the sampler saw both containers: ${info}`);
      assert.ok(first[1] - first[0] < 25_000, `the cut-off container was stopped part way through its 30 s: ${info}`);
      assert.ok(first[1] < retry[0], `the cut-off container was last seen before the retry's was first seen: ${info}`);
      assert.match(r.cutAgentLog, /lease not renewed within the fence; stopping the stage/);
      t.diagnostic(
        `cut-off container alive ${first[1] - first[0]} ms; retry's container seen ${retry[0] - first[1]} ms after it`,
      );
      await waitFor(() => leftovers(r.hosts).length === 0, { message: "both hosts gone", timeoutMs: 20_000 });
    });
  },
);
