// The agent fences itself: an agent cut off from a live server (iptables DROP of its
// server's port and of its own way to NATS, for 30 s) stops its stage before the
// server gives the stage to another agent: the sampler never sees two copies, and
// the cut-off copy executed only part of its steps. Positive control: with the fence
// turned off (the test-only DOCKYARD_AGENT_FENCE=off) the same cut shows two copies.
import { setTimeout as cutLasts } from "node:timers/promises";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { OutageFarm, waitFor } from "../index";
import { CopySampler, markedSteps, markerDir, type SamplerReport } from "../helpers/sampler";
import { Partition, tcpProxy } from "../helpers/partition";

const STEPS = 60;
const STEP_MS = 500;
const CUT_MS = 30_000;

interface CutResult {
  attempts: { state: string; agent: string; reason: string | null }[];
  marks: Record<string, string[]>;
  sampler: SamplerReport;
  cutAgentLog: string;
}

async function cutAgentOff(fence: "on" | "off"): Promise<CutResult> {
  const farm = new OutageFarm({ replicas: 2 });
  const marks = markerDir();
  const partition = new Partition(farm.prefix);
  let proxy: Awaited<ReturnType<typeof tcpProxy>> | null = null;
  let sampler: CopySampler | null = null;
  try {
    await farm.start();
    proxy = await tcpProxy(farm.natsPort);
    // The agent to cut talks to replica 0 only, and to NATS through its own proxy.
    farm.spawnAgent("cut", {
      executor: "shell",
      labels: { role: "sh" },
      servers: [0],
      natsUrl: `nats://127.0.0.1:${proxy.port}`,
      env: { DOCKYARD_AGENT_FENCE: fence },
    });
    await farm.waitAgentsOnline(1);
    const yaml = `name: cut\nenv: { MARK: "${marks.dir}" }\nstages:\n  s: { executor: shell, agent: { role: sh }, command: '${markedSteps(STEPS, STEP_MS)}' }\n`;
    const res = await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "test:cut.yml" }, { timeoutMs: 10_000 });
    const runId = res.run!.id;
    sampler = new CopySampler(runId).start();
    await waitFor(async () => (await farm.pg.query("SELECT 1 FROM attempts WHERE run_id = $1 AND state = 'running' AND log_seq >= 1", [runId])).rowCount, {
      message: "the stage running on the agent to cut",
      timeoutMs: 60_000,
    });
    // Where the retry can go: an agent on the other replica.
    farm.spawnAgent("other", { executor: "shell", labels: { role: "sh" }, servers: [1] });
    await farm.waitAgentsOnline(2);
    partition.drop(Number(farm.servers[0]!.grpc.split(":")[1]));
    partition.drop(proxy.port);
    try {
      await cutLasts(CUT_MS);
    } finally {
      partition.heal();
    }
    await waitFor(
      async () => {
        const { state } = (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]!;
        return ["succeeded", "failed", "errored", "canceled"].includes(state);
      },
      { message: `run ${runId} to end`, timeoutMs: 120_000, intervalMs: 250 },
    );
    const attempts = (
      await farm.pg.query<{ state: string; agent: string; reason: string | null }>(
        "SELECT a.state, g.name AS agent, a.reason FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY a.number",
        [runId],
      )
    ).rows;
    const cutAgentLog = readFileSync(farm.agents.find((a) => a.name === "cut")!.logFile, "utf8");
    return { attempts, marks: marks.read(), sampler: sampler.stop(), cutAgentLog };
  } finally {
    partition.heal();
    sampler?.stop();
    proxy?.close();
    await farm.stop();
    marks.remove();
  }
}

describe("an agent cut off from a live server (iptables DROP for 30 s)", { concurrency: 2, timeout: 400_000 }, () => {
  it("stops its own stage before the server retries it elsewhere: never two copies", async () => {
    const r = await cutAgentOff("on");
    assert.deepEqual(
      r.attempts.map((a) => [a.state, a.agent]),
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
    assert.ok(first.length > 0 && first.length < STEPS, `the cut-off copy was stopped part way (${first.length}/${STEPS} steps)`);
    assert.equal(r.marks["s.2"]?.length, STEPS, "the retry ran every step");
    assert.match(r.cutAgentLog, /lease not renewed within the fence; stopping the stage/);
    assert.match(r.cutAgentLog, /"why":"fenced"/, "killed by its supervisor");
  });

  it("positive control: with the fence off, the sampler sees two copies at once", async () => {
    const r = await cutAgentOff("off");
    const lines = Object.fromEntries(Object.entries(r.marks).map(([f, l]) => [f, l.length]));
    assert.ok(r.sampler.overlapSamples > 0, `no overlap seen: ${JSON.stringify(r.sampler)} ${JSON.stringify(lines)} ${JSON.stringify(r.attempts)}`);
    assert.deepEqual(r.sampler.maxCopies, { s: 2 });
  });
});
