// kill -9 of an agent mid-stage: the attempt ends `lost`, the stage is retried
// once on the other agent, and the orphaned container is reaped when the
// killed agent comes back.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
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
} from "../index";

describe("agent lost mid-stage", () => {
  let farm: Farm;
  let docker: Docker;
  before(async () => {
    docker = await testDocker();
    farm = await startFarm();
  });
  after(async () => farm?.stop());

  it("retries the stage once on the other agent and reaps the orphan", async () => {
    const a = farm.spawnAgent({ name: "loss-a", capacity: 1 });
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'loss-a' AND state = 'online'")).rowCount,
      {
        message: "agent loss-a online",
      },
    );
    const runId = await submit(
      farm.client,
      `
name: survive
stages:
  long:
    image: dockyard/busybox:1
    command: 'echo "attempt $DOCKYARD_ATTEMPT"; if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 300; fi; echo done'
`,
    );
    const first = await runningAttempt(farm, runId, { minLogSeq: 1 });
    assert.equal((await attemptContainers(docker, first))[0]?.State, "running");

    a.child.kill("SIGKILL");
    await a.exited;
    await farm.startAgent({ name: "loss-b", capacity: 1 });

    const run = await waitForRun(farm.client, runId, 60_000);
    assert.equal(run.state, "succeeded");
    const attempts = await farm.pg.query<{ number: number; state: string; name: string }>(
      "SELECT a.number, a.state, g.name FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY a.number",
      [runId],
    );
    assert.deepEqual(attempts.rows, [
      { number: 1, state: "lost", name: "loss-a" },
      { number: 2, state: "succeeded", name: "loss-b" },
    ]);
    const events = await runEvents(farm.client, runId);
    assert.equal(logsByStage(events).get("long"), "attempt 1\nattempt 2\ndone\n");
    const lostEvent = events.find(
      (e) => e.body.case === "stage" && e.body.value.state === "queued" && e.body.value.attempt === 1,
    );
    assert.match(lostEvent?.body.case === "stage" ? lostEvent.body.value.reason : "", /retry after lost/);

    // The orphaned container of attempt 1 (stopped by the dead agent's supervisor) stays until its agent returns and
    // reaps it.
    const restarted = farm.spawnAgent({ name: "loss-a", capacity: 1, stateDir: a.stateDir });
    await waitFor(async () => (await attemptContainers(docker, first)).length === 0, {
      timeoutMs: 30_000,
      message: "orphaned container of attempt 1 to be reaped",
    });
    // Its spool replay (the lost attempt's last words) is refused as stale and counted.
    await waitFor(
      async () =>
        /dockyard_stale_writes_total\{kind="[a-z]+"\} [1-9]/.test(
          await (await fetch(`${farm.server.httpUrl}/metrics`)).text(),
        ),
      {
        message: "the stale spool replay to be counted",
      },
    );
    restarted.child.kill("SIGTERM");
    assert.equal(await restarted.exited, 0);
  });
});
