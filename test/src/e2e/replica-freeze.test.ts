// Renewals reach a live replica: two replicas, the one the agent streams to frozen
// (SIGSTOP) for 45 s while three shell stages run, the other up. The agent's renewals
// go unanswered, it moves its stream to the live replica, which renews the leases: no
// lease expires, every stage ran once (one attempt, each step once, per its marker
// file) and the sampler never saw two copies of a stage.
import { setTimeout as freezeLasts } from "node:timers/promises";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { OutageFarm, waitFor } from "../index";
import { CopySampler, markedSteps, markerDir } from "../helpers/sampler";

const STAGES = ["a", "b", "c"];
const STEP_MS = 500;
const FREEZE_MS = 45_000;

describe("the agents' replica frozen for 45 s, the other up", { timeout: 300_000 }, () => {
  it("moves the renewals to the live replica: no lease expires, every stage ran once, never two copies", async () => {
    const farm = new OutageFarm({ replicas: 2 });
    const marks = markerDir();
    let sampler: CopySampler | null = null;
    try {
      await farm.start();
      // Replica 0 first: its stream, heartbeats and renewals start there.
      farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" }, capacity: 4, servers: [0, 1] });
      await farm.waitAgentsOnline(1);
      const steps = Math.ceil((FREEZE_MS + 10_000) / STEP_MS);
      const yaml = [
        "name: replica-freeze",
        `env: { MARK: "${marks.dir}" }`,
        "stages:",
        ...STAGES.map((s) => `  ${s}: { executor: shell, agent: { role: sh }, command: '${markedSteps(steps, STEP_MS)}' }`),
      ].join("\n");
      const res = await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "test:replica-freeze.yml" }, { timeoutMs: 10_000 });
      const runId = res.run!.id;
      sampler = new CopySampler(runId).start();
      await waitFor(
        async () =>
          (await farm.pg.query("SELECT count(*)::int AS n FROM attempts WHERE run_id = $1 AND state = 'running' AND log_seq >= 1", [runId])).rows[0].n ===
          STAGES.length,
        { message: "every stage running", timeoutMs: 60_000 },
      );
      const frozen = farm.servers[0]!.child!;
      frozen.kill("SIGSTOP");
      try {
        await freezeLasts(FREEZE_MS);
      } finally {
        frozen.kill("SIGCONT");
      }
      await waitFor(
        async () => {
          const { state } = (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]!;
          return ["succeeded", "failed", "errored", "canceled"].includes(state);
        },
        { message: `run ${runId} to end`, timeoutMs: 120_000, intervalMs: 250 },
      );
      const rows = (
        await farm.pg.query<{ name: string; state: string; reason: string | null }>(
          "SELECT s.name, a.state, a.reason FROM attempts a JOIN stages s ON s.id = a.stage_id WHERE a.run_id = $1 ORDER BY s.name, a.number",
          [runId],
        )
      ).rows;
      const report = sampler.stop();
      const attempts: Record<string, string[]> = {};
      for (const r of rows) (attempts[r.name] ??= []).push(r.state);
      assert.deepEqual(attempts, { a: ["succeeded"], b: ["succeeded"], c: ["succeeded"] }, JSON.stringify(rows));
      const every = Array.from({ length: steps }, (_, i) => String(i + 1));
      assert.deepEqual(marks.read(), { "a.1": every, "b.1": every, "c.1": every });
      assert.equal(report.overlapSamples, 0);
      const agentLog = readFileSync(farm.agents[0]!.logFile, "utf8");
      assert.match(agentLog, /lease renewal unanswered; moving to another replica/, "the agent moved its stream");
      assert.doesNotMatch(agentLog, /lease not renewed within the fence/);
      const liveLog = readFileSync(farm.servers[1]!.logFile, "utf8");
      assert.doesNotMatch(liveLog, /lease expired/, "the live replica expired no lease");
    } finally {
      sampler?.stop();
      farm.servers[0]?.child?.kill("SIGCONT");
      await farm.stop();
      marks.remove();
    }
  });
});
