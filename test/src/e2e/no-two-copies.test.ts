// No two live copies of a stage: when an agent dies (kill -9) or freezes (SIGSTOP), its
// supervisor stops the agent's containers and shell process groups within 5 s, before the
// server gives the stage to another agent; a thawed agent reports why. And a stage that
// leaves a daemon behind (holding its output) ends with its main process, daemon and all.
import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import type Docker from "dockerode";
import {
  startFarm,
  submit,
  waitFor,
  waitForRun,
  runningAttempt,
  runEvents,
  logsByStage,
  testDocker,
  attemptContainers,
  type Farm,
  type SpawnedAgent,
} from "../index";

const SUPERVISOR_STOPPED = "the agent froze; its supervisor stopped the stage";

/** Live processes (not zombies) whose environment holds `entry` (NAME=value) exactly. */
function processesWith(entry: string): number[] {
  const needle = Buffer.from(`\0${entry}\0`);
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        if (readFileSync(`/proc/${pid}/stat`, "latin1").includes(") Z ")) return false;
        return Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]).includes(
          needle,
        );
      } catch {
        return false;
      }
    });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "latin1").includes(") Z ");
  } catch {
    return false;
  }
}

async function online(farm: Farm, name: string): Promise<void> {
  await waitFor(
    async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = $1 AND state = 'online'", [name])).rowCount,
    {
      message: `agent ${name} online`,
    },
  );
}

async function attemptRows(farm: Farm, runId: string) {
  return (
    await farm.pg.query<{
      id: string;
      number: number;
      state: string;
      reason: string | null;
      name: string;
      started_at: Date | null;
    }>(
      `SELECT a.id, a.number, a.state, a.reason, g.name, a.started_at FROM attempts a JOIN agents g ON g.id = a.agent_id
     WHERE a.run_id = $1 ORDER BY a.number`,
      [runId],
    )
  ).rows;
}

/** A stage that sleeps in its first attempt only, pinned by label to the agents of one test. */
/**
 * The stopped first copy's end, then the run: attempt 1 lost on `lostOn`, attempt 2 succeeded
 * on `retriedOn` and started only after the first copy's container had stopped.
 */
async function retriedAfterStop(
  farm: Farm,
  docker: Docker,
  runId: string,
  first: string,
  lostOn: string,
  retriedOn: string,
) {
  const finishedAt = new Date((await docker.getContainer(`dockyard-${first}`).inspect()).State.FinishedAt);
  const run = await waitForRun(farm.client, runId, 60_000);
  assert.equal(run.state, "succeeded");
  const rows = await attemptRows(farm, runId);
  assert.deepEqual(
    rows.map((r) => [r.number, r.state, r.name]),
    [
      [1, "lost", lostOn],
      [2, "succeeded", retriedOn],
    ],
  );
  assert.ok(
    rows[1]!.started_at! > finishedAt,
    `retry started ${rows[1]!.started_at!.toISOString()}, first copy stopped ${finishedAt.toISOString()}`,
  );
  return { rows, finishedAt };
}

const retried = (name: string, label: string, executor: "docker" | "shell") => `
name: ${name}
stages:
  long:
    ${executor === "docker" ? "image: dockyard/busybox:1" : "executor: shell"}
    agent: { t: ${label} }
    retry: { count: 1, on: [lost] }
    command: 'echo "attempt $DOCKYARD_ATTEMPT"; if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 60 & echo "sleep $!"; wait; fi; echo done'
`;

async function stopAgent(agent: SpawnedAgent): Promise<void> {
  if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill("SIGKILL");
  await agent.exited;
}

describe("no two copies (docker; server defaults of the test farm: agent lost after 4 s, lease 6 s)", () => {
  let farm: Farm;
  let docker: Docker;
  before(async () => {
    docker = await testDocker();
    farm = await startFarm();
  });
  after(async () => farm?.stop());

  it("kill -9: the agent's container is stopped within 5 s, before the retry starts elsewhere", async (t: TestContext) => {
    const a = farm.spawnAgent({ name: "k9-a", capacity: 1, labels: { t: "k9" } });
    await online(farm, "k9-a");
    const runId = await submit(farm.client, retried("kill9", "k9", "docker"));
    const first = await runningAttempt(farm, runId, { minLogSeq: 1 });
    assert.equal((await attemptContainers(docker, first))[0]?.State, "running");
    await farm.startAgent({ name: "k9-b", capacity: 1, labels: { t: "k9" } }); // where the retry goes

    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    await waitFor(async () => (await attemptContainers(docker, first))[0]?.State !== "running", {
      timeoutMs: 5000,
      intervalMs: 20,
      message: "the dead agent's container to stop within 5 s",
    });
    const stoppedMs = Date.now() - killedAt;
    const { rows, finishedAt } = await retriedAfterStop(farm, docker, runId, first, "k9-a", "k9-b");
    assert.equal(
      logsByStage(await runEvents(farm.client, runId))
        .get("long")
        ?.replace(/sleep \d+\n/, ""),
      "attempt 1\nattempt 2\ndone\n",
    );
    t.diagnostic(
      `container stopped ${stoppedMs} ms after kill -9 (FinishedAt ${finishedAt.getTime() - killedAt} ms); retry started ${rows[1]!.started_at!.getTime() - killedAt} ms after`,
    );
    // Its agent never comes back: the run's end has the other agent on this engine reap it with the workspace.
    await waitFor(async () => (await attemptContainers(docker, first)).length === 0, {
      timeoutMs: 20_000,
      message: "the dead agent's stopped container to be reaped with the run's workspace",
    });
    await stopAgent(a);
  });

  it("SIGSTOP: the frozen agent's container is stopped within 5 s, before the server gives the stage away", async (t: TestContext) => {
    const a = farm.spawnAgent({ name: "fz-a", capacity: 1, labels: { t: "fz" } });
    await online(farm, "fz-a");
    const runId = await submit(farm.client, retried("freeze-docker", "fz", "docker"));
    const first = await runningAttempt(farm, runId, { minLogSeq: 1 });
    await farm.startAgent({ name: "fz-b", capacity: 1, labels: { t: "fz" } });

    a.child.kill("SIGSTOP");
    const frozenAt = Date.now();
    await waitFor(async () => (await attemptContainers(docker, first))[0]?.State !== "running", {
      timeoutMs: 5000,
      intervalMs: 20,
      message: "the frozen agent's container to stop within 5 s",
    });
    const stoppedMs = Date.now() - frozenAt;
    // Stopped while the server still counted the attempt as running: nobody had the stage yet.
    const rowsThen = await attemptRows(farm, runId);
    const { rows } = await retriedAfterStop(farm, docker, runId, first, "fz-a", "fz-b");
    t.diagnostic(
      `container stopped ${stoppedMs} ms after SIGSTOP (attempts then: ${rowsThen.map((r) => `${r.number}:${r.state}`).join(",")}); retry started ${rows[1]!.started_at!.getTime() - frozenAt} ms after`,
    );

    // Thawed, the agent finds its attempt over and removes the stopped container.
    a.child.kill("SIGCONT");
    await waitFor(async () => (await attemptContainers(docker, first)).length === 0, {
      timeoutMs: 20_000,
      message: "the thawed agent to remove its container",
    });
    await stopAgent(a);
  });

  it("a stage's background processes end with its main process (the container's end)", async () => {
    await farm.startAgent({ name: "bg", capacity: 1, labels: { t: "bg" } });
    const runId = await submit(
      farm.client,
      `
name: background
stages:
  bg:
    image: dockyard/busybox:1
    agent: { t: bg }
    command: 'sleep 300 & (sleep 300 &); setsid sleep 300 & sleep 0.3; echo "sleepers $(ps -o comm | grep -c "^sleep$")"'
`,
    );
    const run = await waitForRun(farm.client, runId, 20_000);
    assert.equal(run.state, "succeeded");
    assert.equal(
      logsByStage(await runEvents(farm.client, runId)).get("bg"),
      "sleepers 3\n",
      "the three ran (positive control)",
    );
    const [row] = (
      await farm.pg.query<{ ms: number }>(
        "SELECT EXTRACT(EPOCH FROM finished_at - started_at) * 1000 AS ms FROM attempts WHERE run_id = $1",
        [runId],
      )
    ).rows;
    assert.ok(Number(row!.ms) < 3000, `attempt took ${row!.ms} ms`);
  });
});

describe("no two copies (shell; agent lost after 10 s, lease 12 s: a thawed agent reports first)", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ env: { DOCKYARD_AGENT_LOST_TIMEOUT_MS: "10000", DOCKYARD_LEASE_TTL_MS: "12000" } });
  });
  after(async () => farm?.stop());

  it("SIGSTOP: the stage's processes are gone within 5 s; thawed, the agent reports the attempt lost and it runs again elsewhere", async (t: TestContext) => {
    const a = farm.spawnAgent({ name: "sh-a", capacity: 1, executor: "shell", labels: { t: "sh" } });
    await online(farm, "sh-a");
    const runId = await submit(farm.client, retried("freeze-shell", "sh", "shell"));
    const first = await runningAttempt(farm, runId, { minLogSeq: 1 });
    const sleepPid = await waitFor(
      async () => {
        const m = /sleep (\d+)/.exec(logsByStage(await runEvents(farm.client, runId)).get("long") ?? "");
        return m ? Number(m[1]) : undefined;
      },
      { message: "the stage to print its sleep's pid" },
    );
    const tagged = `DOCKYARD_ATTEMPT_ID=${first}`;
    assert.ok(
      alive(sleepPid) && processesWith(tagged).includes(sleepPid),
      "the stage's sleep runs and is found by its env (positive control)",
    );
    await farm.startAgent({ name: "sh-b", capacity: 1, executor: "shell", labels: { t: "sh" } });

    a.child.kill("SIGSTOP");
    const frozenAt = Date.now();
    await waitFor(() => !alive(sleepPid) && processesWith(tagged).length === 0, {
      timeoutMs: 5000,
      intervalMs: 20,
      message: "the frozen agent's stage processes to be gone within 5 s",
    });
    const goneMs = Date.now() - frozenAt;
    const gone = new Date();
    const rowsThen = await attemptRows(farm, runId);
    assert.deepEqual(
      rowsThen.map((r) => [r.number, r.state]),
      [[1, "running"]],
      "the server has not given the stage away yet",
    );

    a.child.kill("SIGCONT");
    const run = await waitForRun(farm.client, runId, 60_000);
    assert.equal(run.state, "succeeded");
    const rows = await attemptRows(farm, runId);
    assert.deepEqual(
      rows.map((r) => [r.number, r.state, r.reason, r.name]),
      [
        [1, "lost", SUPERVISOR_STOPPED, "sh-a"],
        [2, "succeeded", "succeeded", "sh-b"],
      ],
    );
    assert.ok(rows[1]!.started_at! > gone, "the retry started after the first copy was gone");
    t.diagnostic(
      `stage processes gone ${goneMs} ms after SIGSTOP; retry started ${rows[1]!.started_at!.getTime() - frozenAt} ms after`,
    );
    // The thawed agent is healthy: it drains and exits 0 on SIGTERM.
    a.child.kill("SIGTERM");
    assert.equal(await a.exited, 0);
  });

  it("a stage that leaves setsid and nohup daemons holding its output ends with its shell, and so do they", async () => {
    await farm.startAgent({ name: "daemons", capacity: 1, executor: "shell", labels: { t: "dm" } });
    const started = Date.now();
    const runId = await submit(
      farm.client,
      `
name: daemons
stages:
  daemons:
    executor: shell
    agent: { t: dm }
    commands:
      - (setsid sh -c 'echo $$ > d1.pid; exec sleep 300' &)
      - setsid nohup sh -c 'echo $$ > d2.pid; exec sleep 300' &
      - i=0; while { [ ! -s d1.pid ] || [ ! -s d2.pid ]; } && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
      - kill -0 $(cat d1.pid) $(cat d2.pid) && echo "daemons $(cat d1.pid) $(cat d2.pid) alive"
      - echo done
`,
    );
    const run = await waitForRun(farm.client, runId, 20_000);
    const tookMs = Date.now() - started;
    assert.equal(run.state, "succeeded");
    const log = logsByStage(await runEvents(farm.client, runId)).get("daemons") ?? "";
    const m = /^daemons (\d+) (\d+) alive\ndone\n$/.exec(log);
    assert.ok(m, `stage log: ${JSON.stringify(log)}`);
    assert.ok(tookMs < 5000, `the run took ${tookMs} ms`);
    await waitFor(() => !alive(Number(m[1])) && !alive(Number(m[2])), {
      timeoutMs: 2000,
      message: "both daemons gone",
    });
  });
});
