// "Why is it pending?": every waiting stage carries its reason in GetRun, the HTTP API and
// the CLI (run --json, the live view of watch); a stage no registered agent could run
// ends as errored after DOCKYARD_UNSCHEDULABLE_TIMEOUT_MS, one that merely waits does not.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Stage } from "@dockyard/proto";
import {
  startFarm,
  submit,
  runEvents,
  runningAttempt,
  testDocker,
  waitFor,
  waitForRun,
  dockyardProcess,
  type Farm,
} from "../index";
import { tempDir } from "@dockyard/testkit";

const dockyard = dockyardProcess;

/** Wait until the stage's reason (GetRun) matches; returns the stage. */
async function stageWith(farm: Farm, runId: string, name: string, reason: string | RegExp): Promise<Stage> {
  let last: Stage | undefined;
  return waitFor(
    async () => {
      const { run } = await farm.client.getRun({ runId });
      last = run!.stages.find((s) => s.name === name);
      const ok = typeof reason === "string" ? last?.reason === reason : reason.test(last?.reason ?? "");
      return ok ? last : undefined;
    },
    {
      timeoutMs: 15_000,
      message: `stage ${name} of ${runId} with reason ${String(reason)} (last: ${last?.state} '${last?.reason}')`,
    },
  );
}

/** `dockyard watch RUN` until its output matches `line`; then the run is canceled and the watch's output returned. */
async function watchUntil(farm: Farm, runId: string, line: RegExp): Promise<string> {
  const watch = dockyard(farm, ["watch", runId]);
  await waitFor(() => line.test(watch.out()), {
    timeoutMs: 15_000,
    message: `watch output matching ${line} (got: ${watch.out()})`,
  });
  await farm.client.cancelRun({ runId });
  const r = await watch.done;
  return r.stdout;
}

async function apiStage(farm: Farm, runId: string, name: string): Promise<{ state: string; reason: string | null }> {
  const res = await fetch(`${farm.server.httpUrl}/api/v1/runs/${runId}`, {
    headers: { authorization: `Bearer ${farm.apiToken}` },
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { run: { stages: { name: string; state: string; reason: string | null }[] } };
  const stage = body.run.stages.find((s) => s.name === name)!;
  return { state: stage.state, reason: stage.reason };
}

function file(name: string, text: string): string {
  const p = path.join(tempDir("pending"), name);
  writeFileSync(p, text);
  return p;
}

describe("why a stage waits", () => {
  let farm: Farm;
  before(async () => {
    await testDocker();
    farm = await startFarm({
      agents: [
        { name: "dock-a", executor: "docker", labels: { zone: "a" } },
        { name: "dock-b", executor: "docker", labels: { zone: "b" } },
      ],
    });
  });
  after(async () => farm?.stop());

  it("names a label no agent has (GetRun, HTTP API, watch) and a pending stage's needs", async () => {
    const runId = await submit(
      farm.client,
      `name: nolabel
stages:
  build: { image: dockyard/busybox:1, command: "true", agent: { zone: c } }
  deploy: { image: dockyard/busybox:1, command: "true", needs: [build] }
`,
    );
    const build = await stageWith(farm, runId, "build", "no agent has label zone=c (agents: dock-a, dock-b)");
    assert.equal(build.state, "queued");
    const { run } = await farm.client.getRun({ runId });
    assert.deepEqual([run!.stages[1]!.state, run!.stages[1]!.reason], ["pending", "waiting for build"]);
    assert.deepEqual(await apiStage(farm, runId, "build"), {
      state: "queued",
      reason: "no agent has label zone=c (agents: dock-a, dock-b)",
    });
    assert.equal((await apiStage(farm, runId, "deploy")).reason, "waiting for build");
    const out = await watchUntil(
      farm,
      runId,
      /build {2}queued {2}\(no agent has label zone=c \(agents: dock-a, dock-b\)\)/,
    );
    assert.match(out, /deploy {2}pending {2}\(waiting for build\)/);
    assert.match(out, /build {2}canceled/);
  });

  it("says no online agent offers the capability (run --json, watch)", async () => {
    const submitted = dockyard(farm, [
      "run",
      file(
        "shell.yml",
        `name: shelly
stages:
  build: { executor: shell, command: "true" }
  deploy: { executor: shell, command: "true", needs: [build] }
`,
      ),
      "--json",
    ]);
    const r = await submitted.done;
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as {
      id: string;
      stages: { name: string; state: string; reason: string | null }[];
    };
    assert.deepEqual(
      json.stages.map((s) => [s.name, s.state, s.reason || ""]),
      [
        ["build", "queued", ""],
        ["deploy", "pending", "waiting for build"],
      ],
    );
    await stageWith(farm, json.id, "build", "no online agent offers capability shell");
    await watchUntil(farm, json.id, /build {2}queued {2}\(no online agent offers capability shell\)/);
  });

  it("gives used/capacity of a full agent, and clears the reason once the stage is placed", async () => {
    await farm.startAgent({ name: "sh-full", executor: "shell", labels: { pool: "full" }, capacity: 1 });
    const hold = await submit(
      farm.client,
      "name: hold\nstages:\n  s: { executor: shell, command: 'sleep 60', agent: { pool: full } }\n",
    );
    await runningAttempt(farm, hold);
    const runId = await submit(
      farm.client,
      "name: next\nstages:\n  s: { executor: shell, command: 'sleep 60', agent: { pool: full } }\n",
    );
    assert.equal((await stageWith(farm, runId, "s", "1 matching agent is full (1/1)")).state, "queued");
    const events = await runEvents(farm.client, runId);
    assert.ok(
      events.some(
        (e) =>
          e.body.case === "stage" &&
          e.body.value.state === "queued" &&
          e.body.value.reason === "1 matching agent is full (1/1)",
      ),
    );
    await farm.client.cancelRun({ runId: hold });
    await runningAttempt(farm, runId);
    const { run } = await farm.client.getRun({ runId });
    assert.deepEqual([run!.stages[0]!.state, run!.stages[0]!.reason], ["running", ""]);
    await farm.client.cancelRun({ runId });
  });

  it("says a matching agent drains, then that it is offline once it left", async () => {
    const agent = await farm.startAgent({
      name: "sh-drain",
      executor: "shell",
      labels: { pool: "drain" },
      capacity: 1,
    });
    const hold = await submit(
      farm.client,
      "name: hold\nstages:\n  s: { executor: shell, command: 'sleep 60', agent: { pool: drain } }\n",
    );
    await runningAttempt(farm, hold);
    const drained = agent.drain();
    await waitFor(
      async () => (await farm.client.listAgents({})).agents.find((a) => a.name === "sh-drain")?.state === "draining",
      {
        message: "sh-drain draining",
      },
    );
    const runId = await submit(
      farm.client,
      "name: after-drain\nstages:\n  s: { executor: shell, command: 'true', agent: { pool: drain } }\n",
    );
    await stageWith(farm, runId, "s", "agent sh-drain is draining");
    await farm.client.cancelRun({ runId: hold });
    await drained;
    await stageWith(farm, runId, "s", "the only matching agent sh-drain is offline");
    const out = await watchUntil(farm, runId, /s {2}queued {2}\(the only matching agent sh-drain is offline\)/);
    assert.match(
      out,
      /s {2}queued {2}\(agent sh-drain is draining\)[\s\S]*s {2}queued {2}\(the only matching agent sh-drain is offline\)/,
    );
  });
});

describe("unschedulable stages end as errored", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({
      env: { DOCKYARD_UNSCHEDULABLE_TIMEOUT_MS: "1500" },
      agents: [{ name: "busy", executor: "shell", labels: { pool: "busy" }, capacity: 1 }],
    });
    const gone = await farm.startAgent({ name: "gone", executor: "shell", labels: { pool: "gone" } });
    await gone.stop();
  });
  after(async () => farm?.stop());

  it("after the timeout, with its reason and its dependents skipped; a stage waiting for busy or offline agents waits on", async () => {
    const hold = await submit(
      farm.client,
      "name: hold\nstages:\n  s: { executor: shell, command: 'sleep 60', agent: { pool: busy } }\n",
    );
    await runningAttempt(farm, hold);
    const full = await submit(
      farm.client,
      "name: full\nstages:\n  s: { executor: shell, command: 'true', agent: { pool: busy } }\n",
    );
    const offline = await submit(
      farm.client,
      "name: offline\nstages:\n  s: { executor: shell, command: 'true', agent: { pool: gone } }\n",
    );
    const doomed = await submit(
      farm.client,
      `name: doomed
stages:
  build: { executor: shell, command: "true", agent: { gpu: "yes" } }
  deploy: { executor: shell, command: "true", needs: [build] }
  report: { executor: shell, command: "true", needs: [deploy] }
`,
    );
    const reason = "no agent has label gpu=yes (agents: busy, gone)";
    const run = await waitForRun(farm.client, doomed, 20_000);
    assert.equal(run.state, "errored");
    assert.deepEqual(
      run.stages.map((s) => [s.name, s.state, s.reason]),
      [
        ["build", "errored", reason],
        ["deploy", "skipped", "a needed stage did not succeed"],
        ["report", "skipped", "a needed stage did not succeed"],
      ],
    );
    const ended = (await runEvents(farm.client, doomed)).filter(
      (e) => e.body.case === "stage" && e.body.value.state === "errored",
    );
    assert.deepEqual(
      ended.map((e) => (e.body.case === "stage" ? e.body.value.reason : "")),
      [reason],
    );

    // Queued before `doomed`, so for longer than the timeout, and still waiting.
    for (const [runId, why] of [
      [full, "1 matching agent is full (1/1)"],
      [offline, "the only matching agent gone is offline"],
    ] as const) {
      const { rows } = await farm.pg.query<{ state: string; waited: boolean }>(
        "SELECT state, now() - queued_at > interval '1500 milliseconds' AS waited FROM stages WHERE run_id = $1",
        [runId],
      );
      assert.deepEqual(rows, [{ state: "queued", waited: true }], runId);
      assert.equal((await farm.client.getRun({ runId })).run!.stages[0]!.reason, why);
    }

    const watch = await dockyard(farm, ["watch", doomed]).done;
    assert.equal(watch.code, 1);
    assert.match(watch.stdout, /build {2}errored {2}\(no agent has label gpu=yes \(agents: busy, gone\)\)/);
    assert.match(watch.stdout, /deploy {2}skipped/);
    assert.match(watch.stdout, /run [0-9a-f-]{36} errored/);
    // The waiting ones first: once `hold` ends, `full` runs and could finish before its cancel.
    for (const runId of [full, offline, hold]) await farm.client.cancelRun({ runId });
  });
});
