// A frozen server does not punish its agents: SIGSTOP of the only server for 20 s and
// for 60 s while three shell stages run, then SIGCONT. The server notices its own stall
// and gives the agents a lease TTL to report in: no agent is declared lost, no lease
// expires, every stage ran once (one attempt, each step once, per its marker file) and
// the sampler never saw two copies. Positive control: with the grace after a stall
// turned off (a test-only setting), the same 20 s freeze re-runs stages.
import { setTimeout as freezeLasts } from "node:timers/promises";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { OutageFarm, waitFor } from "../index";
import { CopySampler, markedSteps, markerDir } from "../helpers/sampler";

const STAGES = ["a", "b", "c"];
const STEP_MS = 500;

interface FreezeResult {
  attempts: Record<string, string[]>;
  marks: Record<string, string[]>;
  overlapSamples: number;
  lostLogged: boolean;
  steps: number;
}

async function freezeServer(freezeMs: number, env: Record<string, string> = {}): Promise<FreezeResult> {
  const farm = new OutageFarm({ env });
  const marks = markerDir();
  let sampler: CopySampler | null = null;
  try {
    await farm.start();
    farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" }, capacity: 4 });
    await farm.waitAgentsOnline(1);
    // Each stage outlives the freeze by about 10 s.
    const steps = Math.ceil((freezeMs + 10_000) / STEP_MS);
    const yaml = [
      "name: freeze",
      `env: { MARK: "${marks.dir}" }`,
      "stages:",
      ...STAGES.map((s) => `  ${s}: { executor: shell, agent: { role: sh }, command: '${markedSteps(steps, STEP_MS)}' }`),
    ].join("\n");
    const res = await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "test:freeze.yml" }, { timeoutMs: 10_000 });
    const runId = res.run!.id;
    sampler = new CopySampler(runId).start();
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT count(*)::int AS n FROM attempts WHERE run_id = $1 AND state = 'running' AND log_seq >= 1", [runId])).rows[0].n ===
        STAGES.length,
      { message: "every stage running", timeoutMs: 60_000 },
    );
    const server = farm.servers[0]!.child!;
    server.kill("SIGSTOP");
    try {
      await freezeLasts(freezeMs);
    } finally {
      server.kill("SIGCONT");
    }
    await waitFor(
      async () => {
        const { state } = (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]!;
        return ["succeeded", "failed", "errored", "canceled"].includes(state);
      },
      { message: `run ${runId} to end`, timeoutMs: freezeMs + 120_000, intervalMs: 250 },
    );
    const rows = (
      await farm.pg.query<{ name: string; state: string }>(
        "SELECT s.name, a.state FROM attempts a JOIN stages s ON s.id = a.stage_id WHERE a.run_id = $1 ORDER BY s.name, a.number",
        [runId],
      )
    ).rows;
    const attempts: Record<string, string[]> = {};
    for (const r of rows) (attempts[r.name] ??= []).push(r.state);
    const report = sampler.stop();
    const serverLog = readFileSync(farm.servers[0]!.logFile, "utf8");
    return { attempts, marks: marks.read(), overlapSamples: report.overlapSamples, lostLogged: /"msg":"agents lost"/.test(serverLog), steps };
  } finally {
    sampler?.stop();
    farm.servers[0]?.child?.kill("SIGCONT");
    await farm.stop();
    marks.remove();
  }
}

describe("a frozen server (SIGSTOP, then SIGCONT)", { concurrency: 3, timeout: 400_000 }, () => {
  for (const seconds of [20, 60]) {
    it(`frozen ${seconds} s: no agent lost, every stage ran once, each step once, never two copies`, async () => {
      const r = await freezeServer(seconds * 1000);
      assert.deepEqual(r.attempts, { a: ["succeeded"], b: ["succeeded"], c: ["succeeded"] });
      assert.equal(r.lostLogged, false, "no agent was declared lost");
      const every = Array.from({ length: r.steps }, (_, i) => String(i + 1));
      assert.deepEqual(r.marks, { "a.1": every, "b.1": every, "c.1": every });
      assert.equal(r.overlapSamples, 0);
    });
  }

  it("positive control: without the grace after a stall, a 20 s freeze re-runs stages", async () => {
    const r = await freezeServer(20_000, { DOCKYARD_STALL_GRACE: "false" });
    const reruns = Object.values(r.attempts).filter((a) => a.length > 1).length;
    assert.ok(reruns > 0, `some stage ran again: ${JSON.stringify(r.attempts)}`);
    assert.ok(
      Object.keys(r.marks).some((f) => f.endsWith(".2")),
      `a second attempt executed steps: ${Object.keys(r.marks).join(", ")}`,
    );
  });
});
