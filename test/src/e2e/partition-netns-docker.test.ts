// A partitioned docker agent, on a real network link: the agent lives in its own network
// namespace (it still reaches its engine over the unix socket) and is cut off for 30 s by
// an iptables DROP while its container runs a 30 s stage; the other docker agent (root
// namespace) takes the retry. The copy sampler sees the containers by label every 0.25 s:
// never two, and the cut-off container gone before the retry's appeared. The positive
// control for this sampler path is the shell file's (the same scenario, fence off) plus
// the sampler seeing both containers here, one after the other.
import { after, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../index";
import { leftovers, NetnsHost } from "../helpers/netns";
import { partitionAgent } from "../helpers/netns-partition";

const hosts: NetnsHost[] = [];

after(async () => {
  for (const h of hosts) h.remove();
  await waitFor(() => leftovers(hosts).length === 0, {
    message: `no leftovers: ${leftovers(hosts).join(", ")}`,
    timeoutMs: 20_000,
  });
});

describe("a docker agent partitioned in its own network namespace for 30 s", { timeout: 170_000 }, () => {
  it("drop: its container is stopped before the retry's container starts; never two copies", async (t: TestContext) => {
    const r = await partitionAgent({ cut: "drop", fence: "on", hosts, executor: "docker" });
    const info = JSON.stringify({ attempts: r.attempts, sampler: r.sampler });
    assert.equal(r.state, "succeeded", info);
    assert.deepEqual(
      r.attempts.map((a) => [a.number, a.state, a.agent]),
      [
        [1, "lost", "cut"],
        [2, "succeeded", "other"],
      ],
      info,
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
    await waitFor(() => leftovers([r.host]).length === 0, { message: `${r.host.name} gone`, timeoutMs: 20_000 });
  });
});
