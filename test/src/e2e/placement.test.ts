// Placement: label selectors choose the agent; a stage no agent matches stays
// queued (visible in dockyard_queue_depth) instead of running anywhere.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFarm, submit, waitFor, waitForRun, type Farm } from "../index";

describe("placement", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({
      agents: [
        { name: "zone-a", executor: "shell", labels: { zone: "a" }, capacity: 4 },
        { name: "zone-b", executor: "shell", labels: { zone: "b", disk: "ssd" }, capacity: 4 },
      ],
    });
  });
  after(async () => farm?.stop());

  it("runs each stage on an agent carrying every selector pair", async () => {
    const runId = await submit(
      farm.client,
      `
name: placed
stages:
${Array.from({ length: 6 }, (_, i) => `  b${i}: { executor: shell, command: "true", agent: { zone: b, disk: ssd } }`).join("\n")}
  a0: { executor: shell, command: "true", agent: { zone: a } }
`,
    );
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded");
    const { agents } = await farm.client.listAgents({});
    const nameOf = new Map(agents.map((a) => [a.id, a.name]));
    for (const s of run.stages)
      assert.equal(nameOf.get(s.agentId), s.name.startsWith("b") ? "zone-b" : "zone-a", s.name);
  });

  it("places a run's first stages as it is submitted, as far as free slots go", async () => {
    // zone-b has 4 slots: 4 of the 6 stages are on it when the submit answers, 2 wait in the queue.
    const res = await farm.client.submitRun({
      pipelineYaml: Buffer.from(`name: at-submit
stages:
${Array.from({ length: 6 }, (_, i) => `  b${i}: { executor: shell, command: "sleep 0.2", agent: { zone: b } }`).join("\n")}
`),
      source: "test",
    });
    const run = res.run!;
    assert.equal(run.state, "running");
    assert.deepEqual(run.stages.map((s) => s.state).sort(), [
      "assigned",
      "assigned",
      "assigned",
      "assigned",
      "queued",
      "queued",
    ]);
    const { agents } = await farm.client.listAgents({});
    const zoneB = agents.find((a) => a.name === "zone-b")!.id;
    assert.ok(run.stages.filter((s) => s.state === "assigned").every((s) => s.agentId === zoneB));
    assert.equal((await waitForRun(farm.client, run.id)).state, "succeeded");
  });

  it("keeps a stage queued while no agent matches its selector", async () => {
    const runId = await submit(
      farm.client,
      "name: nowhere\nstages:\n  s: { executor: shell, command: 'true', agent: { gpu: 'yes' } }\n",
    );
    await waitFor(
      async () => /^dockyard_queue_depth 1$/m.test(await (await fetch(`${farm.server.httpUrl}/metrics`)).text()),
      {
        message: "queue depth 1",
      },
    );
    const { run } = await farm.client.getRun({ runId });
    assert.equal(run!.stages[0]!.state, "queued");
    await farm.client.cancelRun({ runId });
  });

  it("promotes a join exactly when all of its many needs finish at once", async () => {
    // Stages finishing together each see the others still running unless their
    // decisions are serialised per run; the join would then stay pending forever.
    const fan = Array.from({ length: 8 }, (_, i) => `  p${i}: { executor: shell, command: "true" }`).join("\n");
    const needs = Array.from({ length: 8 }, (_, i) => `p${i}`).join(", ");
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        submit(
          farm.client,
          `name: join-${i}\nstages:\n${fan}\n  join: { executor: shell, command: "echo joined", needs: [${needs}] }\n`,
        ),
      ),
    );
    for (const runId of ids) assert.equal((await waitForRun(farm.client, runId, 60_000)).state, "succeeded");
  });
});
