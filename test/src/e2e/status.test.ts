// Honest status, as a user sees it through the real `dockyard` binary and the HTTP API:
// a lost or timed-out attempt is an attempt of its own everywhere (live view, runs --json,
// logs, the API), logs mark attempt boundaries and stderr, an unknown stage or a bad query
// parameter is an error that says what exists, and a pipeline without `name:` is named
// after its directory. Canceling (finished runs, canceled attempts and their late reports)
// is in status-cancel.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { RunJson } from "@dockyard/cli";
import { startFarm, submit, waitForRun, waitFor, runningAttempt, type Farm } from "../index";
import { dockyard, http } from "../helpers/status-cli";
import { tempDir } from "@dockyard/testkit";

const lines = (text: string, prefix: RegExp) => text.split("\n").filter((l) => prefix.test(l));

describe("honest status", { timeout: 300_000 }, () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({ agents: [{ name: "st-main", capacity: 4 }] });
  });
  after(async () => farm?.stop());

  it("a lost attempt is its own attempt in watch, runs --json, logs and the API; a retry's output starts at a boundary", async () => {
    const a = farm.spawnAgent({ name: "st-a", capacity: 1, labels: { pool: "lossy" } });
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'st-a' AND state = 'online'")).rowCount,
      {
        message: "agent st-a online",
      },
    );
    const runId = await submit(
      farm.client,
      `
name: survive
stages:
  build:
    image: dockyard/busybox:1
    agent: { pool: lossy }
    retry: { count: 1, on: [lost] }
    command: 'echo "attempt $DOCKYARD_ATTEMPT"; if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 300; fi; echo done'
`,
    );
    const watching = dockyard(farm, ["watch", runId]);
    await runningAttempt(farm, runId, { minLogSeq: 1 });
    a.child.kill("SIGKILL");
    await a.exited;
    await farm.startAgent({ name: "st-b", capacity: 1, labels: { pool: "lossy" } });
    const watch = await watching;
    assert.equal(watch.code, 0, watch.stderr + watch.stdout);

    // The live view: attempt 1 ends as lost (with its reason), then the retry, then attempt 2.
    const status = lines(watch.stdout, /^\d\d:\d\d:\d\d build  /).map((l) => l.slice(9));
    const at = [
      /^build  running  \(attempt 1 on st-a\)$/,
      /^build  lost  \(attempt 1 on st-a\)  \((agent lost: no heartbeat|lease expired: agent stopped renewing)\)$/,
      /^build  queued  \(retry after lost\)$/,
      /^build  running  \(attempt 2 on st-b\)$/,
      /^build  succeeded  exit 0  \(attempt 2\)$/,
    ].map((re) => status.findIndex((l) => re.test(l)));
    assert.ok(
      at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)),
      `in this order:\n${status.join("\n")}`,
    );
    assert.match(
      watch.stdout,
      /\n {2}build: attempt 1 lost on st-a \((agent lost|lease expired)[^)]*\), attempt 2 succeeded on st-b\n$/,
    );
    const jsonEvents = (await dockyard(farm, ["watch", runId, "--json"])).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const stageStates = jsonEvents.filter((e) => e.type === "stage").map((e) => `${e.stage.state}#${e.stage.attempt}`);
    assert.ok(
      stageStates.indexOf("lost#1") >= 0 && stageStates.indexOf("lost#1") + 1 === stageStates.indexOf("queued#1"),
      stageStates.join(" "),
    );

    // runs --json and GET /api/v1/runs/:id: one shape, with every attempt.
    const listed = (JSON.parse((await dockyard(farm, ["runs", "--json"])).stdout) as RunJson[]).find(
      (r) => r.id === runId,
    )!;
    const stage = listed.stages[0]!;
    assert.equal(stage.attempts, 2);
    assert.deepEqual(
      stage.attemptHistory.map((x) => [x.number, x.state, x.agentName, x.exitCode]),
      [
        [1, "lost", "st-a", null],
        [2, "succeeded", "st-b", 0],
      ],
    );
    assert.match(stage.attemptHistory[0]!.reason ?? "", /agent lost: no heartbeat|lease expired/);
    assert.ok(stage.attemptHistory.every((x) => x.assignedAt && x.startedAt && x.finishedAt));
    const api = await http(farm, "GET", `/runs/${runId}`);
    assert.equal(api.status, 200);
    assert.deepEqual(api.json.run, listed, "the HTTP API and runs --json print the same run");
    const apiList = await http(farm, "GET", "/runs?limit=50");
    assert.deepEqual(
      apiList.json.runs.find((r: RunJson) => r.id === runId),
      listed,
    );

    // logs: the boundary, and one attempt on request.
    const raw = await dockyard(farm, ["logs", runId, "build"]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, "attempt 1\n==> build: attempt 2 (after attempt 1 was lost) <==\nattempt 2\ndone\n");
    assert.equal((await dockyard(farm, ["logs", runId, "build", "--attempt", "1"])).stdout, "attempt 1\n");
    assert.equal((await dockyard(farm, ["logs", runId, "build", "--attempt", "2"])).stdout, "attempt 2\ndone\n");
    const all = await dockyard(farm, ["logs", runId]);
    assert.equal(
      all.stdout,
      "[build] attempt 1\n==> build: attempt 2 (after attempt 1 was lost) <==\n[build] attempt 2\n[build] done\n",
    );
    const none = await dockyard(farm, ["logs", runId, "build", "--attempt", "3"]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `error: stage 'build' of run ${runId} has no attempt 3 (attempts: 1, 2)\n`);
    const usage = await dockyard(farm, ["logs", runId, "--attempt", "1"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--attempt needs a STAGE/);
  });

  it("a timed-out attempt that is retried is its own attempt too", async () => {
    const runId = await submit(
      farm.client,
      `
name: slow-once
stages:
  s:
    image: dockyard/busybox:1
    timeout: 1s
    retry: { count: 1, on: [timeout] }
    command: 'echo "try $DOCKYARD_ATTEMPT"; if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 30; fi'
`,
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const watch = await dockyard(farm, ["watch", runId]);
    assert.match(
      watch.stdout,
      /\d\d:\d\d:\d\d s  timeout  \(attempt 1 on st-(main|b)\)  \(stage exceeded its timeout[^)]*\)\n.* s  queued  \(retry after timeout\)\n/,
    );
    assert.equal(
      (await dockyard(farm, ["logs", runId, "s"])).stdout,
      "try 1\n==> s: attempt 2 (after attempt 1 timed out) <==\ntry 2\n",
    );
    const run = (await http(farm, "GET", `/runs/${runId}`)).json.run as RunJson;
    assert.deepEqual(
      run.stages[0]!.attemptHistory.map((x) => x.state),
      ["timeout", "succeeded"],
    );
  });

  it("stdout and stderr keep their order, are never glued, and stderr is marked", async () => {
    const runId = await submit(
      farm.client,
      `
name: streams
stages:
  s:
    image: dockyard/busybox:1
    command: 'echo one; sleep 0.3; echo two >&2; sleep 0.3; printf no-newline-at-end; sleep 0.3; echo to-stderr >&2; sleep 0.3; echo last'
`,
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const watch = await dockyard(farm, ["watch", runId]);
    assert.deepEqual(lines(watch.stdout, /^s [|!] /), [
      "s | one",
      "s ! two",
      "s | no-newline-at-end",
      "s ! to-stderr",
      "s | last",
    ]);
    const logs = await dockyard(farm, ["logs", runId]);
    assert.equal(logs.stdout, "[s] one\n[s]! two\n[s] no-newline-at-end\n[s]! to-stderr\n[s] last\n");
    const json = (await dockyard(farm, ["watch", runId, "--json"])).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      json.filter((e) => e.type === "log").map((e) => [e.stream, e.text]),
      [
        ["stdout", "one\n"],
        ["stderr", "two\n"],
        ["stdout", "no-newline-at-end"],
        ["stderr", "to-stderr\n"],
        ["stdout", "last\n"],
      ],
    );
    // One stage's raw output stays the bytes the stage wrote, in order.
    assert.equal((await dockyard(farm, ["logs", runId, "s"])).stdout, "one\ntwo\nno-newline-at-endto-stderr\nlast\n");
  });

  it("logs of an unknown stage name the run's stages; runs --json lists every run's stages", async () => {
    const runId = await submit(
      farm.client,
      `
name: five
stages:
  a: { image: dockyard/busybox:1, command: 'true' }
  b: { image: dockyard/busybox:1, command: 'true', needs: [a] }
  c: { image: dockyard/busybox:1, command: 'true', needs: [a] }
  d: { image: dockyard/busybox:1, command: 'true', needs: [b, c] }
  e: { image: dockyard/busybox:1, command: 'true', needs: [d] }
`,
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const r = await dockyard(farm, ["logs", runId, "nosuchstage"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: run ${runId} has no stage 'nosuchstage' (stages: a, b, c, d, e)\n`);
    assert.equal(r.stdout, "");
    const followed = await dockyard(farm, ["logs", runId, "nosuchstage", "-f"]);
    assert.equal(followed.code, 1);

    const listed = (JSON.parse((await dockyard(farm, ["runs", "--json"])).stdout) as RunJson[]).find(
      (x) => x.id === runId,
    )!;
    assert.deepEqual(
      listed.stages.map((s) => [s.name, s.state, s.needs, s.attemptHistory.length]),
      [
        ["a", "succeeded", [], 1],
        ["b", "succeeded", ["a"], 1],
        ["c", "succeeded", ["a"], 1],
        ["d", "succeeded", ["b", "c"], 1],
        ["e", "succeeded", ["d"], 1],
      ],
    );
  });

  it("the HTTP API refuses bad query parameters with 400, naming the parameter and what it allows", async () => {
    const limit = await http(farm, "GET", "/runs?limit=abc");
    assert.equal(limit.status, 400);
    assert.deepEqual(limit.json, {
      error: { code: "invalid", message: "invalid limit 'abc': expected a whole number from 1 to 500", field: "limit" },
    });
    const state = await http(farm, "GET", "/runs?state=bogus");
    assert.equal(state.status, 400);
    assert.deepEqual(state.json, {
      error: {
        code: "invalid",
        message: "invalid state 'bogus': expected one of queued, running, succeeded, failed, errored, canceled",
        field: "state",
      },
    });
    const ok = await http(farm, "GET", "/runs?limit=2&state=succeeded");
    assert.equal(ok.status, 200);
    assert.ok(
      ok.json.runs.length <= 2 && ok.json.runs.every((r: RunJson) => r.state === "succeeded" && r.stages.length > 0),
    );
  });

  it("a pipeline without name: is named after its directory; without a directory name it is a clear problem", async () => {
    const dir = path.join(tempDir("st"), "My Project!");
    mkdirSync(dir);
    const file = path.join(dir, "dockyard.yml");
    const nameless = "stages:\n  s: { image: dockyard/busybox:1, command: 'echo hi' }\n";
    writeFileSync(file, nameless);
    const valid = await dockyard(farm, ["validate", file]);
    assert.equal(valid.code, 0, valid.stderr);
    const run = await dockyard(farm, ["run", file, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as RunJson).name, "my-project");
    // Relative paths too: the directory of the file as given, resolved from the working directory.
    const relative = await dockyard(farm, ["run", "dockyard.yml", "--json"], { cwd: dir });
    assert.equal((JSON.parse(relative.stdout) as RunJson).name, "my-project");

    const refused = await http(farm, "POST", "/runs", nameless);
    assert.equal(refused.status, 400);
    assert.match(
      refused.json.error.problems.join("\n"),
      /dockyard\.yml:1:1: missing 'name' \(and no directory name to default to\)/,
    );
    const named = await http(farm, "POST", "/runs?name=web-app", nameless);
    assert.equal(named.status, 201);
    assert.equal(named.json.run.name, "web-app");
    const own = await http(farm, "POST", "/runs?name=web-app", `name: own\n${nameless}`);
    assert.equal(own.json.run.name, "own", "the file's own name wins");
    await waitForRun(farm.client, named.json.run.id);
    await waitForRun(farm.client, own.json.run.id);
  });
});
