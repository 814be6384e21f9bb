// Two agents run a DAG of container stages; every log line arrives once, in order.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import {
  startFarm,
  submit,
  waitFor,
  waitForRun,
  runningAttempt,
  runEvents,
  logsByStage,
  DOCKER_HOST,
  type Farm,
} from "../index";

const docker = new Docker({ socketPath: DOCKER_HOST.replace("unix://", "") });

describe("docker DAG across two agents", () => {
  let farm: Farm;
  before(async () => {
    await docker.ping().catch((err: Error) => {
      throw new Error(`no Docker engine at ${DOCKER_HOST}; 'npm test' starts one (${err.message})`);
    });
    farm = await startFarm({
      agents: [
        { name: "dk-a", capacity: 2 },
        { name: "dk-b", capacity: 2 },
      ],
    });
  });
  after(async () => farm?.stop());

  it("runs fan-out and join stages in containers with ordered, complete logs", async () => {
    const runId = await submit(
      farm.client,
      `
name: dag
env: { GREETING: hello }
stages:
  prepare:
    image: dockyard/busybox:1
    commands: ["echo $GREETING > /workspace/greeting", "echo prepared"]
  count-a:
    image: dockyard/busybox:1
    needs: [prepare]
    command: "for i in $(seq 1 300); do echo a-$i; done"
  count-b:
    image: dockyard/busybox:1
    needs: [prepare]
    command: "for i in $(seq 1 300); do echo b-$i; done"
  join:
    image: dockyard/busybox:1
    needs: [count-a, count-b]
    env: { WHO: join }
    commands: ["cat /workspace/greeting", "echo $WHO done"]
`,
    );
    const run = await waitForRun(farm.client, runId, 90_000);
    assert.equal(run.state, "succeeded", run.stages.map((s) => `${s.name}=${s.state}:${s.reason}`).join(" "));
    const events = await runEvents(farm.client, runId);
    const logs = logsByStage(events);
    const expect = (p: string) => Array.from({ length: 300 }, (_, i) => `${p}-${i + 1}\n`).join("");
    assert.equal(logs.get("count-a"), expect("a"));
    assert.equal(logs.get("count-b"), expect("b"));
    assert.equal(logs.get("join"), "hello\njoin done\n");
    // seqs are gap-free and each chunk appears once
    const seqs = events.map((e) => Number(e.seq));
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
    );
    const chunkKeys = events
      .filter((e) => e.body.case === "log")
      .map((e) =>
        e.body.case === "log" ? `${e.body.value.stageId}/${e.body.value.attempt}/${e.body.value.chunkSeq}` : "",
      );
    assert.equal(new Set(chunkKeys).size, chunkKeys.length);
    // both agents took part, and the join ran after both counters finished
    const agents = new Set(run.stages.map((s) => s.agentId));
    assert.equal(agents.size, 2, "stages should spread over both agents");
    const byName = new Map(run.stages.map((s) => [s.name, s]));
    assert.ok(byName.get("join")!.startedAtMs >= byName.get("count-a")!.finishedAtMs);
    assert.ok(byName.get("join")!.startedAtMs >= byName.get("count-b")!.finishedAtMs);
    // containers are removed after their stage (the agent removes one once its end is acknowledged,
    // which may be just after the run ended), the run's workspace volume once the run ended
    await waitFor(
      async () =>
        (await docker.listContainers({ all: true, filters: { label: [`dockyard.run=${runId}`] } })).length === 0,
      {
        message: "the run's stage containers to be removed",
      },
    );
    await waitFor(async () => !(await docker.listVolumes()).Volumes?.some((v) => v.Name === `dockyard-ws-${runId}`), {
      message: "the run's workspace volume to be removed",
    });
  });

  it("fails a stage whose command fails and skips what needs it", async () => {
    const runId = await submit(
      farm.client,
      `
name: failing
stages:
  broken:
    image: dockyard/busybox:1
    commands: ["echo before", "exit 3", "echo never"]
  after:
    image: dockyard/busybox:1
    needs: [broken]
    command: "echo unreachable"
`,
    );
    const run = await waitForRun(farm.client, runId, 60_000);
    assert.equal(run.state, "failed");
    const [broken, afterStage] = run.stages;
    assert.equal(broken!.state, "failed");
    assert.equal(broken!.exitCode, 3);
    assert.equal(afterStage!.state, "skipped");
    assert.equal(logsByStage(await runEvents(farm.client, runId)).get("broken"), "before\n");
  });

  it("errors a stage whose image is not on the host", async () => {
    const runId = await submit(
      farm.client,
      `
name: missing-image
stages:
  nope:
    image: dockyard/does-not-exist:1
    command: "true"
`,
    );
    const run = await waitForRun(farm.client, runId, 60_000);
    assert.equal(run.state, "errored");
    assert.match(run.stages[0]!.reason, /not found|errored/);
  });

  it("applies the stage's resource limits to its container", async () => {
    const runId = await submit(
      farm.client,
      `
name: limited
stages:
  boxed:
    image: dockyard/busybox:1
    resources: { memory: 64m, cpus: 0.5, pids: 64 }
    command: "sleep 30"
`,
    );
    const attemptId = await runningAttempt(farm, runId);
    const [c] = await docker.listContainers({ filters: { label: [`dockyard.attempt=${attemptId}`] } });
    const info = await docker.getContainer(c!.Id).inspect();
    assert.deepEqual(
      [info.HostConfig.Memory, info.HostConfig.NanoCpus, info.HostConfig.PidsLimit],
      [64 * 1024 * 1024, 5e8, 64],
    );
    await farm.client.cancelRun({ runId });
  });
});
