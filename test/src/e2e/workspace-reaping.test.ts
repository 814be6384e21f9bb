// A run's workspaces (Docker volume, shell directory) are removed when the run ends,
// whichever agent is left: the heartbeat reports the workspaces an agent finds on its
// host and engine, the server answers which runs ended, so neither a kill -9 of the
// agent that made the volume nor a run-ended notice lost in a NATS outage leaks one.
// dockyard_workspaces counts them, live or leaked.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import Dockerode from "dockerode";
import type Docker from "dockerode";
import {
  startFarm,
  handAgent,
  submit,
  waitFor,
  waitForRun,
  runningAttempt,
  testDocker,
  attemptContainers,
  removeRunLeftovers,
  OutageFarm,
  DOCKER_HOST_B,
  type Farm,
} from "../index";
import { tempDir } from "@dockyard/testkit";
import { secretDir } from "@dockyard/agent";

const volumeOf = (runId: string) => `dockyard-ws-${runId}`;

async function volumeLabels(docker: Docker, runId: string): Promise<Record<string, string> | null> {
  try {
    return (await docker.getVolume(volumeOf(runId)).inspect()).Labels ?? {};
  } catch {
    return null;
  }
}

async function workspaceGauge(metricsUrl: string): Promise<{ live: number; leaked: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (state: string) =>
    Number(new RegExp(`^dockyard_workspaces\\{state="${state}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  return { live: value("live"), leaked: value("leaked") };
}

describe("run workspaces are reconciled over the heartbeat", { timeout: 180_000 }, () => {
  let farm: Farm;
  let docker: Docker;
  const dirs: string[] = [];
  before(async () => {
    docker = await testDocker();
    farm = await startFarm();
  });
  after(async () => {
    await farm?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("the server answers which reported runs ended, refuses what is not a run id, and counts live and leaked workspaces", async () => {
    const { client } = await handAgent(farm, "ws-hand");
    try {
      const pipeline = "name: parked\nstages:\n  s: { executor: shell, command: 'true', agent: { role: nobody } }\n";
      const ended = await submit(farm.client, pipeline);
      const queued = await submit(farm.client, pipeline);
      await farm.client.cancelRun({ runId: ended });
      await waitForRun(farm.client, ended);
      const unknown = randomUUID();

      const res = await client.heartbeat({ workspaceRunIds: [ended, queued, unknown], foreignWorkspaceRunIds: [] });
      assert.deepEqual(
        res.endedRuns.map((r) => [r.runId, r.state]),
        [[ended, "canceled"]],
      );
      const metrics = `${farm.server.httpUrl}/metrics`;
      // Just ended: still live (the agent is removing it).
      await waitFor(
        async () => JSON.stringify(await workspaceGauge(metrics)) === JSON.stringify({ live: 3, leaked: 0 }),
        {
          message: "3 live workspaces, none leaked",
        },
      );

      // The agent still reports it long after its run ended: leaked. (Time moved by editing the end.)
      await farm.pg.query("UPDATE runs SET finished_at = now() - interval '5 minutes' WHERE id = $1", [ended]);
      await client.heartbeat({ workspaceRunIds: [ended, queued], foreignWorkspaceRunIds: [] });
      await waitFor(
        async () => JSON.stringify(await workspaceGauge(metrics)) === JSON.stringify({ live: 1, leaked: 1 }),
        {
          message: "1 live workspace and 1 leaked",
        },
      );

      // Another agent's volume on a shared engine: answered, so it is reaped, but not counted.
      const foreign = await client.heartbeat({ workspaceRunIds: [], foreignWorkspaceRunIds: [ended, queued] });
      assert.deepEqual(
        foreign.endedRuns.map((r) => r.runId),
        [ended],
      );
      await waitFor(
        async () => JSON.stringify(await workspaceGauge(metrics)) === JSON.stringify({ live: 0, leaked: 0 }),
        {
          message: "no workspace counted",
        },
      );

      await assert.rejects(
        client.heartbeat({ workspaceRunIds: ["../etc"], foreignWorkspaceRunIds: [] }),
        /workspace_run_ids holds "\.\.\/etc", which is not a run id/,
      );
      const many = Array.from({ length: 501 }, () => randomUUID());
      await assert.rejects(
        client.heartbeat({ workspaceRunIds: [], foreignWorkspaceRunIds: many }),
        /foreign_workspace_run_ids lists 501 runs; at most 500/,
      );
    } finally {
      client.close();
    }
  });

  it("the leaked volume and secret files after a kill -9: the agent left on the host removes them (and the killed agent's container) when the run ends", async () => {
    const stateDir = tempDir("agent-ws-a");
    dirs.push(stateDir);
    const a = farm.spawnAgent({ name: "ws-a", capacity: 1, stateDir });
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'ws-a' AND state = 'online'")).rowCount,
      {
        message: "agent ws-a online",
      },
    );
    await farm.client.setSecret({ name: "ws-token", value: Buffer.from("reaped-with-the-run") });
    const runId = await submit(
      farm.client,
      `
name: killed
stages:
  long:
    image: dockyard/busybox:1
    env:
      TOKEN: { secret: ws-token, file: true }
    command: 'echo "attempt $DOCKYARD_ATTEMPT" >> /workspace/attempts; if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 300; fi; cat /workspace/attempts'
`,
    );
    try {
      const first = await runningAttempt(farm, runId);
      // The control: the volume exists, labelled with its run and the agent that made it.
      const aId = (await farm.pg.query<{ id: string }>("SELECT id FROM agents WHERE name = 'ws-a'")).rows[0]!.id;
      const labels = await waitFor(() => volumeLabels(docker, runId), { message: "the run's workspace volume" });
      assert.equal(labels["dockyard.run"], runId);
      assert.equal(labels["dockyard.agent"], aId);
      // The control: the attempt's secret file is on the host's tmpfs.
      const secrets = path.dirname(secretDir(runId, first));
      assert.ok(existsSync(path.join(secretDir(runId, first), "TOKEN")), "the first attempt's secret file");

      a.child.kill("SIGKILL");
      await a.exited;
      const bDir = tempDir("agent-ws-b");
      dirs.push(bDir);
      const b = await farm.startAgent({ name: "ws-b", capacity: 1, stateDir: bDir });
      const run = await waitForRun(farm.client, runId, 60_000);
      assert.equal(run.state, "succeeded");
      const attempts = await farm.pg.query(
        "SELECT a.number, a.state, g.name FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY a.number",
        [runId],
      );
      assert.deepEqual(attempts.rows, [
        { number: 1, state: "lost", name: "ws-a" },
        { number: 2, state: "succeeded", name: "ws-b" },
      ]);

      await waitFor(async () => (await volumeLabels(docker, runId)) === null, {
        timeoutMs: 15_000,
        message: "the run's workspace volume to be removed",
      });
      assert.deepEqual(await attemptContainers(docker, first), [], "the killed agent's stopped container is gone too");
      await waitFor(() => !existsSync(secrets), {
        timeoutMs: 15_000,
        message: "the killed attempt's secret files removed from tmpfs",
      });
      // Off the engine, so the next test finds it without an agent.
      farm.agents.splice(farm.agents.indexOf(b), 1);
      await b.stop();
    } finally {
      await removeRunLeftovers(docker, runId);
    }
  });

  // Whoever comes back to the engine: the killed agent (the volume carries its id) or another one.
  for (const [i, comesBack] of (["the killed agent", "another agent"] as const).entries()) {
    it(`a killed agent's volume, its run ended on another engine, is reaped from its labels once ${comesBack} starts on that engine`, async () => {
      const pool = { pool: `ws-${i}` };
      const stateDir = tempDir(`agent-ws-c${i}`);
      dirs.push(stateDir);
      const c = farm.spawnAgent({ name: `ws-c${i}`, capacity: 1, stateDir, labels: pool });
      await waitFor(
        async () =>
          (await farm.pg.query("SELECT 1 FROM agents WHERE name = $1 AND state = 'online'", [`ws-c${i}`])).rowCount,
        {
          message: `agent ws-c${i} online`,
        },
      );
      const runId = await submit(
        farm.client,
        `
name: elsewhere
stages:
  long:
    image: dockyard/busybox:1
    agent: { pool: ws-${i} }
    command: 'if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 300; fi; echo done'
`,
      );
      try {
        const first = await runningAttempt(farm, runId);
        await waitFor(() => volumeLabels(docker, runId), { message: "the run's workspace volume" });
        c.child.kill("SIGKILL");
        await c.exited;
        const dDir = tempDir(`agent-ws-d${i}`);
        dirs.push(dDir);
        await farm.startAgent({
          name: `ws-d${i}`,
          capacity: 1,
          stateDir: dDir,
          labels: pool,
          dockerHost: DOCKER_HOST_B,
        });
        assert.equal((await waitForRun(farm.client, runId, 60_000)).state, "succeeded");
        // The control: no agent is left on the first engine, so the run-ended notice found nobody to remove the volume
        // there.
        assert.notEqual(await volumeLabels(docker, runId), null);
        assert.equal((await attemptContainers(docker, first)).length, 1, "the killed agent's stopped container");

        const backDir = comesBack === "the killed agent" ? stateDir : tempDir(`agent-ws-e${i}`);
        dirs.push(backDir);
        const back = farm.spawnAgent({
          name: comesBack === "the killed agent" ? `ws-c${i}` : `ws-e${i}`,
          capacity: 1,
          stateDir: backDir,
        });
        try {
          await waitFor(
            async () =>
              (await volumeLabels(docker, runId)) === null && (await attemptContainers(docker, first)).length === 0,
            {
              timeoutMs: 30_000,
              message: `${comesBack} to reap the volume and the stopped container`,
            },
          );
        } finally {
          back.child.kill("SIGKILL");
          await back.exited;
        }
      } finally {
        await removeRunLeftovers(docker, runId);
        await removeRunLeftovers(new Dockerode({ socketPath: DOCKER_HOST_B.replace("unix://", "") }), runId);
      }
    });
  }
});

describe("a run that ends while NATS is down", { timeout: 180_000 }, () => {
  it("its workspaces (shell directory, Docker volume) are gone within a few heartbeats, NATS still down, and stay gone after it returns", async () => {
    const docker = await testDocker();
    const farm = new OutageFarm();
    const release = tempDir("ws-release");
    let runId = "";
    try {
      await farm.start();
      farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" } });
      farm.spawnAgent("box", { executor: "docker", labels: { role: "box" } });
      await farm.waitAgentsOnline(2);
      const shDir = path.dirname(farm.agents[0]!.logFile);
      runId = (
        await farm.client.submitRun(
          {
            pipelineYaml: Buffer.from(`
name: nats-down
stages:
  boxed:
    image: dockyard/busybox:1
    agent: { role: box }
    command: echo kept > /workspace/kept
  held:
    executor: shell
    agent: { role: sh }
    # Ends only once the test released it: after NATS is down.
    command: echo kept > kept; while [ ! -e ${release}/go ]; do sleep 0.1; done
`),
            source: "test:nats-down.yml",
          },
          { timeoutMs: 10_000 },
        )
      ).run!.id;
      const shWorkspace = path.join(shDir, "work", runId);
      // The control: both workspaces exist, and both agents report them.
      await waitFor(
        async () => (await volumeLabels(docker, runId)) !== null && existsSync(path.join(shWorkspace, "kept")),
        {
          timeoutMs: 60_000,
          message: "the run's volume and shell directory",
        },
      );
      const metrics = `http://${farm.servers[0]!.http}/metrics`;
      await waitFor(async () => (await workspaceGauge(metrics)).live === 2, { message: "2 live workspaces reported" });

      await farm.killNats();
      writeFileSync(path.join(release, "go"), "");
      await waitFor(
        async () =>
          (await farm.pg.query("SELECT state FROM runs WHERE id = $1", [runId])).rows[0]?.state === "succeeded",
        {
          timeoutMs: 60_000,
          message: "the run to succeed over gRPC while NATS is down",
        },
      );
      // Heartbeats are 300 ms here: a few of them, not NATS' return.
      await waitFor(async () => (await volumeLabels(docker, runId)) === null && !existsSync(shWorkspace), {
        timeoutMs: 10_000,
        message: "both workspaces removed while NATS is down",
      });
      assert.equal(farm.nats, null, "NATS was down all along");
      await waitFor(
        async () => JSON.stringify(await workspaceGauge(metrics)) === JSON.stringify({ live: 0, leaked: 0 }),
        {
          message: "no workspace counted",
        },
      );

      await farm.startNats();
      await farm.waitAgentsOnline(2);
      assert.equal(await volumeLabels(docker, runId), null);
      assert.equal(existsSync(shWorkspace), false);
    } finally {
      await farm.stop();
      if (runId) await removeRunLeftovers(docker, runId);
      for (const d of [release, farm.dataDir, ...farm.agents.map((a) => path.dirname(a.logFile))])
        rmSync(d, { recursive: true, force: true });
    }
  });
});
