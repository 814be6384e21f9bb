import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFarm, submit, waitForRun, runEvents, logsByStage, type Farm } from "../index";

describe("shell executor farm", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ agents: [{ name: "sh-a", executor: "shell" }] });
  });
  after(async () => farm?.stop());

  it("runs a two-stage pipeline and streams its logs", async () => {
    const runId = await submit(farm.client, `
name: smoke
stages:
  one:
    executor: shell
    commands: ["echo hello from one"]
  two:
    executor: shell
    needs: [one]
    commands: ["echo hello from two", "echo to-stderr >&2"]
`);
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(logs.get("one"), "hello from one\n");
    assert.equal(logs.get("two"), "hello from two\nto-stderr\n");
  });
});
