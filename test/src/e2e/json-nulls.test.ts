// The JSON null rule over every stage state, through the real `dockyard` binary and the HTTP
// API: a value that does not exist (yet) is null, never "" or 0; an errored stage carries its
// attempt's real reason. One run holds a stage in each state: pending, queued, running,
// succeeded, failed, errored, skipped, lost (its agent revoked), then canceled.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import type { RunJson, StageJson } from "@dockyard/cli";
import { projectDir, startFarm, waitFor, type Farm } from "../index";
import { dockyard, http } from "../helpers/status-cli";
import { nullRuleViolations } from "../helpers/null-rule";

const PIPELINE = `
name: nulls
stages:
  ok: { agent: { pool: main }, image: dockyard/busybox:1, command: 'echo ok' }
  bad: { agent: { pool: main }, image: dockyard/busybox:1, command: 'exit 3' }
  after-bad: { agent: { pool: main }, image: dockyard/busybox:1, needs: [bad], command: 'echo never' }
  noimage: { agent: { pool: main }, image: 'dockyard/not-here:0', command: 'true' }
  slow: { agent: { pool: main }, image: dockyard/busybox:1, command: 'sleep 300' }
  doomed: { image: dockyard/busybox:1, agent: { pool: doomed }, retry: 0, command: 'sleep 300' }
  nowhere: { image: dockyard/busybox:1, agent: { pool: nowhere }, command: 'true' }
  later: { image: dockyard/busybox:1, needs: [nowhere], command: 'true' }
`;

/** What each stage shows once every state is reached (before the cancel). */
const EXPECTED: Record<string, { state: string; exitCode: number | null; agent: boolean; reason: RegExp | null }> = {
  ok: { state: "succeeded", exitCode: 0, agent: true, reason: null },
  bad: { state: "failed", exitCode: 3, agent: true, reason: /exit code 3/ },
  "after-bad": { state: "skipped", exitCode: null, agent: false, reason: /a needed stage did not succeed/ },
  noimage: {
    state: "errored",
    exitCode: null,
    agent: true,
    reason: /image 'dockyard\/not-here:0' not found on this host/,
  },
  slow: { state: "running", exitCode: null, agent: true, reason: null },
  doomed: { state: "lost", exitCode: null, agent: true, reason: /agent was revoked/ },
  nowhere: { state: "queued", exitCode: null, agent: false, reason: /pool=nowhere/ },
  later: { state: "pending", exitCode: null, agent: false, reason: /nowhere/ },
};

function assertKeepsRule(what: string, value: unknown): void {
  const broken = nullRuleViolations(value);
  assert.deepEqual(broken, [], `${what} breaks the null rule:\n${broken.join("\n")}`);
}

function assertStages(what: string, stages: StageJson[]): void {
  for (const s of stages) {
    const want = EXPECTED[s.name]!;
    const got = { state: s.state, exitCode: s.exitCode, agent: s.agentId !== null, reason: s.reason };
    assert.equal(got.state, want.state, `${what}: stage ${s.name}`);
    assert.equal(got.exitCode, want.exitCode, `${what}: exitCode of ${s.name}`);
    if (want.reason === null) assert.equal(s.reason, null, `${what}: reason of ${s.name}`);
    else assert.match(s.reason ?? "(null)", want.reason, `${what}: reason of ${s.name}`);
    if (s.attempts === 0)
      assert.deepEqual([s.startedAt, s.attemptHistory], [null, []], `${what}: ${s.name} never started`);
    const last = s.attemptHistory.at(-1);
    if (last && want.reason) assert.equal(s.reason, last.reason, `${what}: ${s.name}'s reason is its last attempt's`);
  }
}

describe("JSON null rule", { timeout: 240_000 }, () => {
  let farm: Farm;
  let dir: string;
  before(async () => {
    farm = await startFarm({ agents: [{ name: "jn-main", capacity: 4, labels: { pool: "main" } }] });
    farm.spawnAgent({ name: "jn-doomed", capacity: 1, labels: { pool: "doomed" } });
    dir = projectDir({ "dockyard.yml": PIPELINE }, "dockyard-nulls-");
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await farm?.stop();
  });

  it("every stage state, in run --json, runs --json, GET /runs/:id and watch --json", async () => {
    await waitFor(
      async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name = 'jn-doomed' AND state = 'online'")).rowCount,
      {
        timeoutMs: 30_000,
        message: "agent jn-doomed online",
      },
    );
    const submitted = await dockyard(farm, ["run", path.join(dir, "dockyard.yml"), "--json"]);
    assert.equal(submitted.code, 0, submitted.stderr);
    const run = JSON.parse(submitted.stdout) as RunJson;
    assertKeepsRule("run --json", run);
    assert.equal(run.finishedAt, null);
    assert.equal(run.durationMs, null);

    // Every state but lost, then revoke the doomed stage's agent: lost (retry: 0).
    const stateOf = async () => ((await http(farm, "GET", `/runs/${run.id}`)).json.run as RunJson).stages;
    // A state, and the reason that goes with it (a queued stage's comes from the sweep, a second or two later).
    const reached = (stages: StageJson[], names: string[]) =>
      names.every((n) => {
        const s = stages.find((x) => x.name === n)!;
        return s.state === EXPECTED[n]!.state && (EXPECTED[n]!.reason === null || s.reason !== null);
      });
    const others = Object.keys(EXPECTED).filter((n) => n !== "doomed");
    await waitFor(
      async () =>
        reached(await stateOf(), [...others]) &&
        (await stateOf()).find((s) => s.name === "doomed")!.state === "running",
      {
        timeoutMs: 60_000,
        message: "every stage in its state",
      },
    );
    const doomedAgent = (await farm.pg.query("SELECT id FROM agents WHERE name = 'jn-doomed'")).rows[0].id as string;
    const revoked = await dockyard(farm, ["agents", "revoke", doomedAgent]);
    assert.equal(revoked.code, 0, revoked.stderr);
    await waitFor(async () => reached(await stateOf(), ["doomed"]), { message: "doomed lost" });

    const api = (await http(farm, "GET", `/runs/${run.id}`)).json.run as RunJson;
    assertKeepsRule("GET /runs/:id", api);
    assertStages("GET /runs/:id", api.stages);
    const listed = JSON.parse((await dockyard(farm, ["runs", "--json"])).stdout) as RunJson[];
    assertKeepsRule("runs --json", listed);
    assertStages("runs --json", listed.find((r) => r.id === run.id)!.stages);
    const agents = await http(farm, "GET", "/agents");
    assertKeepsRule("GET /agents", agents.json);
    assert.deepEqual(
      agents.json.agents.map((a: { name: string; state: string }) => [a.name, a.state]),
      [
        ["jn-doomed", "revoked"],
        ["jn-main", "online"],
      ],
    );
    assertKeepsRule("agents --json", JSON.parse((await dockyard(farm, ["agents", "--json"])).stdout));

    // The event stream of the whole run, once canceled.
    assert.equal((await http(farm, "POST", `/runs/${run.id}/cancel`)).status, 200);
    const watched = await dockyard(farm, ["watch", run.id, "--json"]);
    const events = watched.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            type: string;
            stage?: {
              name: string;
              state: string;
              exitCode: number | null;
              reason: string | null;
              agentId: string | null;
            };
          },
      );
    assertKeepsRule("watch --json", events);
    const stageEvents = events.filter((e) => e.type === "stage").map((e) => e.stage!);
    const queued = stageEvents.find((s) => s.name === "nowhere" && s.state === "queued");
    assert.deepEqual(
      queued && [queued.agentId, queued.exitCode],
      [null, null],
      "a queued stage has no agent and no exit code",
    );
    const errored = stageEvents.find((s) => s.name === "noimage" && s.state === "errored");
    assert.match(errored?.reason ?? "", /image 'dockyard\/not-here:0' not found on this host/);
    assert.equal(errored?.exitCode, null);
    // Positive control: values that exist are there.
    assert.equal(stageEvents.find((s) => s.name === "bad" && s.state === "failed")?.exitCode, 3);
    assert.equal(stageEvents.find((s) => s.name === "ok" && s.state === "succeeded")?.exitCode, 0);
    const final = ((await http(farm, "GET", `/runs/${run.id}`)).json.run as RunJson).stages;
    assertKeepsRule("GET /runs/:id (canceled)", final);
    assert.deepEqual(
      final.filter((s) => s.state === "canceled").map((s) => [s.name, s.exitCode]),
      [
        ["slow", null],
        ["nowhere", null],
        ["later", null],
      ],
    );
  });
});
