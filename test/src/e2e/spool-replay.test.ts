// The server goes away mid-stage: the agent keeps output and the final status
// in its spool and replays them when the server is back, so no acknowledged
// line is lost, none is duplicated and the stage does not stay running.
import { after, before, describe, it } from "node:test";
import path from "node:path";
import assert from "node:assert/strict";
import { readSpools } from "@dockyard/agent";
import { startFarm, freePort, submit, waitFor, waitForRun, runEvents, logsByStage, type Farm } from "../index";
import { tempDir } from "@dockyard/testkit";

describe("agent spool across a server outage", () => {
  let farm: Farm;
  const spoolerState = tempDir("spooler");
  before(async () => {
    farm = await startFarm({
      env: {
        DOCKYARD_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
        DOCKYARD_AGENT_LOST_TIMEOUT_MS: "20000",
        DOCKYARD_LEASE_TTL_MS: "30000",
      },
      agents: [{ name: "spooler", executor: "shell", capacity: 1, stateDir: spoolerState }],
    });
  });
  after(async () => farm?.stop());

  it("replays unacknowledged chunks and the final status exactly once", async () => {
    const runId = await submit(
      farm.client,
      `
name: outage
stages:
  talk:
    executor: shell
    command: 'for i in $(seq 1 60); do echo line-$i; sleep 0.05; done'
`,
    );
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM attempts WHERE run_id = $1 AND log_seq >= 3", [runId])).rowCount,
      {
        message: "first lines persisted",
      },
    );
    await farm.stopServer();
    // The stage finishes while the server is down: its end waits in the spool.
    await waitFor(() => readSpools(path.join(spoolerState, "spool")).some((s) => s.final?.outcome === "succeeded"), {
      message: "final status spooled",
      timeoutMs: 20_000,
    });
    const [mid] = (await farm.pg.query("SELECT state FROM stages WHERE run_id = $1", [runId])).rows;
    assert.equal(mid.state, "running", "the database still shows the stage running: its end was not reported yet");
    await farm.startServer();
    const run = await waitForRun(farm.client, runId, 30_000);
    assert.equal(run.state, "succeeded");
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.equal(logs.get("talk"), Array.from({ length: 60 }, (_, i) => `line-${i + 1}\n`).join(""));
  });

  it("replays a finished stage after the agent itself was killed and restarted", async () => {
    for (const a of farm.agents.splice(0)) await a.abort();
    const agent = farm.spawnAgent({ name: "respawn", executor: "shell", capacity: 1 });
    const runId = await submit(
      farm.client,
      `
name: restart
stages:
  quick:
    executor: shell
    command: 'echo before; sleep 1.5; echo after'
`,
    );
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM attempts WHERE run_id = $1 AND log_seq >= 1", [runId])).rowCount,
      {
        message: "first line persisted",
      },
    );
    await farm.stopServer();
    // The stage ends while the server is down; its end waits in the spool.
    await waitFor(() => readSpools(`${agent.stateDir}/spool`).some((s) => s.final !== null), {
      message: "final status spooled",
    });
    agent.child.kill("SIGKILL");
    await agent.exited;
    await farm.startServer();
    const again = farm.spawnAgent({ name: "respawn", executor: "shell", capacity: 1, stateDir: agent.stateDir });
    const run = await waitForRun(farm.client, runId, 30_000);
    assert.equal(run.state, "succeeded");
    const tries = (
      await farm.pg.query("SELECT number, state, reason FROM attempts WHERE run_id = $1 ORDER BY number", [runId])
    ).rows;
    assert.equal(run.stages[0]!.attempts, 1, JSON.stringify(tries));
    assert.equal(logsByStage(await runEvents(farm.client, runId)).get("quick"), "before\nafter\n");
    again.child.kill("SIGTERM");
    assert.equal(await again.exited, 0);
  });
});
