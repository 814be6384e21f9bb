// The ways a stage is stopped: a timeout enforced by the server even when the
// agent is silent, a user cancel, and an agent drain on SIGTERM.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type Docker from "dockerode";
import {
  startFarm,
  submit,
  waitFor,
  waitForRun,
  runningAttempt,
  testDocker,
  attemptContainers,
  type Farm,
} from "../index";

describe("stopping stages", () => {
  let farm: Farm;
  let docker: Docker;
  before(async () => {
    docker = await testDocker();
    farm = await startFarm({ env: { DOCKYARD_AGENT_LOST_TIMEOUT_MS: "6000", DOCKYARD_LEASE_TTL_MS: "8000" } });
  });
  after(async () => farm?.stop());

  it("fails a stage that outlives its timeout even while its agent is frozen", async () => {
    const agent = farm.spawnAgent({ name: "frozen", capacity: 1 });
    const runId = await submit(
      farm.client,
      `
name: too-slow
stages:
  slow:
    image: dockyard/busybox:1
    timeout: 4s
    command: "sleep 300"
`,
    );
    const attemptId = await runningAttempt(farm, runId);
    agent.child.kill("SIGSTOP"); // silent: no heartbeats, no renewals, no local timeout
    const frozenAt = Date.now();
    const run = await waitForRun(farm.client, runId, 20_000);
    assert.equal(run.state, "failed");
    assert.equal(run.stages[0]!.state, "failed");
    assert.equal(run.stages[0]!.reason, "stage exceeded its timeout", "the stage carries its attempt's reason");
    const [row] = (await farm.pg.query("SELECT state, reason, finished_at FROM attempts WHERE id = $1", [attemptId]))
      .rows;
    // The server's reason (not the agent's own "of 4000 ms"), and after the agent was frozen.
    assert.deepEqual(
      { state: row.state, reason: row.reason },
      { state: "timeout", reason: "stage exceeded its timeout" },
    );
    assert.ok(new Date(row.finished_at).getTime() >= frozenAt, "ended by the server while the agent was frozen");
    // Once thawed, the agent learns the attempt is over and removes the container.
    agent.child.kill("SIGCONT");
    await waitFor(async () => (await attemptContainers(docker, attemptId)).length === 0, {
      timeoutMs: 20_000,
      message: "timed-out container removed",
    });
    agent.child.kill("SIGKILL");
    await agent.exited;
  });

  it("cancel stops the container and ends the run canceled", async () => {
    await farm.startAgent({ name: "canceler", capacity: 2 });
    const runId = await submit(
      farm.client,
      `
name: to-cancel
stages:
  sleeper:
    image: dockyard/busybox:1
    command: "echo sleeping; sleep 300"
  later:
    image: dockyard/busybox:1
    needs: [sleeper]
    command: "true"
`,
    );
    const attemptId = await runningAttempt(farm, runId);
    await waitFor(async () => (await attemptContainers(docker, attemptId))[0]?.State === "running", {
      message: "container running",
    });
    const { run } = await farm.client.cancelRun({ runId });
    assert.equal(run!.state, "canceled");
    assert.deepEqual(
      run!.stages.map((s) => s.state),
      ["canceled", "canceled"],
    );
    await waitFor(async () => (await attemptContainers(docker, attemptId)).length === 0, {
      timeoutMs: 15_000,
      message: "canceled container removed",
    });
    const [row] = (await farm.pg.query("SELECT state FROM attempts WHERE id = $1", [attemptId])).rows;
    assert.equal(row.state, "canceled");
    const { agents } = await farm.client.listAgents({});
    assert.equal(agents.find((a) => a.name === "canceler")?.slotsUsed, 0);
  });

  it("SIGTERM drains: the running stage finishes, the agent exits 0 and takes nothing new", async () => {
    for (const a of farm.agents.splice(0)) await a.abort();
    const agent = farm.spawnAgent({ name: "drainer", capacity: 1 });
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'drainer' AND state = 'online'")).rowCount,
      {
        message: "drainer online",
      },
    );
    const runId = await submit(
      farm.client,
      `
name: drain
stages:
  finishing:
    image: dockyard/busybox:1
    command: "sleep 2; echo finished"
  next:
    image: dockyard/busybox:1
    needs: [finishing]
    command: "echo next"
`,
    );
    await runningAttempt(farm, runId);
    agent.child.kill("SIGTERM");
    assert.equal(await agent.exited, 0);
    const stages = (await farm.pg.query("SELECT name, state FROM stages WHERE run_id = $1 ORDER BY position", [runId]))
      .rows;
    assert.deepEqual(stages, [
      { name: "finishing", state: "succeeded" },
      { name: "next", state: "queued" },
    ]);
    const [row] = (await farm.pg.query("SELECT state FROM agents WHERE name = 'drainer'")).rows;
    assert.equal(row.state, "offline");
    await farm.client.cancelRun({ runId });
  });
});
