// A retry never races the stop: revoking the join token of an agent running a stage ends
// the attempt as lost at once, but its retry is placed only once the old copy must be dead
// (the fence bound) or its agent confirmed the stop. With a silent stage (no output) and a
// noisy one (thousands of lines a second), the sampler sees the old copy gone before the
// retry's first process, never both, and the retry's first step comes after the old copy's last.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { OutageFarm, waitFor } from "../index";
import { CopySampler, markerDir } from "../helpers/sampler";
import { Partition, tcpProxy } from "../helpers/partition";

const STEPS = 100;

/**
 * `steps` steps of 0.5 s, each appended to the attempt's marker file with a timestamp (ns); noisy ones also print 2,000
 * lines a step.
 */
function stampedSteps(noisy: boolean): string {
  const noise = noisy ? ' seq 1 2000 | sed "s/^/noise $i /";' : "";
  return `for i in $(seq 1 ${STEPS}); do echo "$i $(date +%s%N)" >> "$MARK/$DOCKYARD_STAGE.$DOCKYARD_ATTEMPT";${noise} sleep 0.5; done`;
}

/**
 * Run a stage on an agent, revoke its join token while the stage runs and report what ran.
 * `cutOff`: the agent is cut off (iptables DROP of its replica and of its NATS link) first, so
 * it cannot hear of the revocation: only its fence stops the stage, and the retry must wait for it.
 */
async function revokeDuring(noisy: boolean, cutOff = false) {
  const farm = new OutageFarm({ replicas: cutOff ? 2 : 1 });
  const marks = markerDir();
  const partition = new Partition(farm.prefix);
  let proxy: Awaited<ReturnType<typeof tcpProxy>> | null = null;
  let sampler: CopySampler | null = null;
  try {
    await farm.start();
    const { id: tokenId, token } = await farm.client.createJoinToken(
      { description: "to be revoked" },
      { timeoutMs: 10_000 },
    );
    proxy = cutOff ? await tcpProxy(farm.natsPort) : null;
    farm.spawnAgent("victim", {
      executor: "shell",
      labels: { role: "sh" },
      env: { DOCKYARD_JOIN_TOKEN: token },
      ...(proxy && { servers: [0], natsUrl: `nats://127.0.0.1:${proxy.port}` }),
    });
    await farm.waitAgentsOnline(1);
    const yaml = `name: revoke\nenv: { MARK: "${marks.dir}" }\nstages:\n  s: { executor: shell, agent: { role: sh }, command: '${stampedSteps(noisy)}' }\n`;
    const runId = (
      await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "test:revoke.yml" }, { timeoutMs: 10_000 })
    ).run!.id;
    sampler = new CopySampler(runId).start();
    await waitFor(() => (marks.read()["s.1"]?.length ?? 0) >= 3, {
      message: "the stage running on the victim",
      timeoutMs: 60_000,
    });
    farm.spawnAgent("other", { executor: "shell", labels: { role: "sh" }, ...(cutOff && { servers: [1] }) });
    await farm.waitAgentsOnline(2);
    if (proxy) {
      partition.drop(Number(farm.servers[0]!.grpc.split(":")[1]));
      partition.drop(proxy.port);
      farm.client.rotate(farm.servers[0]!.grpc); // the test's own calls go to the replica it can reach
    }
    const revokedAt = Date.now();
    assert.equal((await farm.client.revokeJoinToken({ id: tokenId }, { timeoutMs: 10_000 })).agentsRevoked, 1);
    await waitFor(
      async () =>
        (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]!.state ===
        "succeeded",
      {
        message: `run ${runId} to succeed`,
        timeoutMs: 120_000,
        intervalMs: 250,
      },
    );
    const attempts = (
      await farm.pg.query<{ state: string; agent: string; reason: string }>(
        "SELECT a.state, g.name AS agent, a.reason FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY a.number",
        [runId],
      )
    ).rows;
    return { attempts, report: sampler.stop(), marks: marks.read(), revokedAt };
  } finally {
    partition.heal();
    proxy?.close();
    sampler?.stop();
    await farm.stop();
    marks.remove();
  }
}

describe("a join token revoked while its agent runs a stage", { concurrency: 3, timeout: 300_000 }, () => {
  for (const { noisy, cutOff } of [
    { noisy: false, cutOff: false },
    { noisy: true, cutOff: false },
    { noisy: true, cutOff: true },
  ]) {
    it(`${noisy ? "noisy" : "silent"} stage${cutOff ? ", its agent cut off" : ""}: the retry starts only after the old copy stopped`, async () => {
      const r = await revokeDuring(noisy, cutOff);
      assert.deepEqual(
        r.attempts.map((a) => [a.state, a.agent, a.reason]),
        [
          ["lost", "victim", "agent's join token was revoked"],
          ["succeeded", "other", "succeeded"],
        ],
      );
      assert.equal(r.report.overlapSamples, 0, `two copies alive in ${r.report.overlapSamples} samples`);
      const [first, second] = r.report.seen.s ?? [];
      assert.ok(first && second, `the sampler saw both copies: ${JSON.stringify(r.report.seen)}`);
      assert.ok(
        r.report.spans[first]![1] < r.report.spans[second]![0],
        `the old copy was last seen before the retry was first seen: ${JSON.stringify(r.report.spans)}`,
      );
      const stamp = (line: string) => BigInt(line.split(" ")[1]!);
      const oldLast = stamp(r.marks["s.1"]!.at(-1)!);
      const retryFirst = stamp(r.marks["s.2"]![0]!);
      assert.ok(r.marks["s.1"]!.length < STEPS, "the old copy was stopped part way");
      assert.equal(r.marks["s.2"]!.length, STEPS);
      assert.ok(retryFirst > oldLast, "the retry's first step came after the old copy's last");
      // Revoked while cut off, the agent hears nothing: the retry waits for its fence (5.6 s + 1 s
      // kill budget after its last renewal), which a retry placed at once would not.
      if (cutOff) assert.ok(Number(retryFirst / 1_000_000n) - r.revokedAt > 2000, "the retry waited for the fence");
    });
  }
});
