// Stages that end together are written together (group commit): the runs' DAGs,
// states and event streams must come out exactly as if each end were written alone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFarm, submit, waitForRun, runEvents, type Farm } from "../index";

const WIDTH = 12;

describe("ends written together", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({
      agents: [
        { name: "batch-a", executor: "shell", capacity: 16 },
        { name: "batch-b", executor: "shell", capacity: 16 },
      ],
    });
  });
  after(async () => farm?.stop());

  it("fans in, moves each run once and numbers every run's events without gaps", async () => {
    // Each run: WIDTH stages that end at about the same moment, a join that needs them all,
    // and a last stage after the join; three runs at once, so batches mix runs.
    const wide = Array.from({ length: WIDTH }, (_, i) => `  w${i}: { executor: shell, command: 'sleep 0.3' }`).join(
      "\n",
    );
    const yaml = (n: number) =>
      `name: batch-${n}\nstages:\n${wide}\n  join:\n    executor: shell\n    needs: [${Array.from({ length: WIDTH }, (_, i) => `w${i}`).join(", ")}]\n    command: 'echo joined'\n  last: { executor: shell, needs: [join], command: 'true' }\n`;
    const ids = await Promise.all([1, 2, 3].map((n) => submit(farm.client, yaml(n))));
    for (const id of ids) {
      const run = await waitForRun(farm.client, id);
      assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
      const events = await runEvents(farm.client, id);
      assert.deepEqual(
        events.map((e) => Number(e.seq)),
        events.map((_, i) => i + 1),
        "seqs 1..n without gaps",
      );
      const stageStates = (name: string) =>
        events.flatMap((e) => (e.body.case === "stage" && e.body.value.stageName === name ? [e.body.value.state] : []));
      for (let i = 0; i < WIDTH; i++)
        assert.equal(stageStates(`w${i}`).filter((s) => s === "succeeded").length, 1, `w${i} succeeded once`);
      assert.equal(stageStates("join").filter((s) => s === "queued").length, 1, "the join is queued exactly once");
      const runStates = events.flatMap((e) => (e.body.case === "run" ? [e.body.value.state] : []));
      assert.deepEqual(runStates, ["queued", "running", "succeeded"]);
      assert.equal(events.at(-1)?.body.case, "run", "the run's end is its last event");
    }
    const metrics = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
    const count = Number(/^dockyard_finish_batch_size_count (\d+)/m.exec(metrics)?.[1]);
    const sum = Number(/^dockyard_finish_batch_size_sum (\d+)/m.exec(metrics)?.[1]);
    assert.equal(sum, 3 * (WIDTH + 2), "every succeeded end went through the group commit");
    assert.ok(count < sum, `ends that arrived together were written together (${sum} ends in ${count} transactions)`);
  });
});
