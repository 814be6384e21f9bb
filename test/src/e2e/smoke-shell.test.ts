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
    const runId = await submit(
      farm.client,
      `
name: smoke
stages:
  one:
    executor: shell
    commands: ["echo hello from one"]
  two:
    executor: shell
    needs: [one]
    commands: ["echo hello from two", "echo to-stderr >&2"]
`,
    );
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(logs.get("one"), "hello from one\n");
    assert.equal(logs.get("two"), "hello from two\nto-stderr\n");
  });

  it("serves /metrics with queue depth, dispatch latency, stages and agents by state", async () => {
    const text = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
    assert.match(text, /^dockyard_queue_depth 0$/m);
    assert.match(text, /^dockyard_dispatch_latency_seconds_count [1-9]/m);
    assert.match(text, /^dockyard_stages\{state="succeeded"\} 2$/m);
    assert.match(text, /^dockyard_agents\{state="online"\} 1$/m);
    assert.match(text, /^dockyard_attempts_ended_total\{outcome="succeeded"\} 2$/m);
  });

  it("serves the run over the HTTP API", async () => {
    const headers = { authorization: `Bearer ${farm.apiToken}` };
    const list = (await (await fetch(`${farm.server.httpUrl}/api/v1/runs`, { headers })).json()) as {
      runs: { id: string; name: string }[];
    };
    const id = list.runs.find((r) => r.name === "smoke")!.id;
    const one = (await (await fetch(`${farm.server.httpUrl}/api/v1/runs/${id}`, { headers })).json()) as {
      run: { state: string; stages: { name: string; state: string; needs: string[] }[] };
    };
    assert.equal(one.run.state, "succeeded");
    assert.deepEqual(
      one.run.stages.map((s) => [s.name, s.state, s.needs]),
      [
        ["one", "succeeded", []],
        ["two", "succeeded", ["one"]],
      ],
    );
    const missing = await fetch(`${farm.server.httpUrl}/api/v1/runs/00000000-0000-0000-0000-000000000000`, { headers });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: { message: string } }).error.message, /run not found/);
    const health = await fetch(`${farm.server.httpUrl}/healthz`);
    assert.equal(health.status, 200);
  });
});
