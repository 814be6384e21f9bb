// Run ids a person can type: a unique prefix (6+ characters) or PIPELINE#NUMBER, wherever
// a run is taken, through the real `dockyard` binary (gRPC) and the HTTP API, which share
// one resolver on the server. Errors name the problem: not found, ambiguous (with the
// candidates), malformed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RunJson } from "@dockyard/cli";
import { startFarm, submit, type Farm } from "../index";
import { dockyard, http } from "../helpers/status-cli";

const PIPELINE = "name: refs\nstages:\n  s: { image: dockyard/busybox:1, command: 'echo hi' }\n";
// Two runs whose ids share the prefix `abcdef0`, written straight into the farm's database.
const TWIN_A = "abcdef01-0000-4000-8000-000000000001";
const TWIN_B = "abcdef02-0000-4000-8000-000000000002";

describe("run references", { timeout: 120_000 }, () => {
  let farm: Farm;
  let first: string;
  let second: string;
  before(async () => {
    // No agents: the runs stay queued, which is all these tests need.
    farm = await startFarm();
    first = await submit(farm.client, PIPELINE);
    second = await submit(farm.client, PIPELINE);
    for (const [id, n] of [
      [TWIN_A, 1],
      [TWIN_B, 2],
    ] as const) {
      await farm.pg.query(
        "INSERT INTO runs (id, name, state, pipeline_yaml, created_at, number) VALUES ($1, 'twins', 'succeeded', '', now(), $2)",
        [id, n],
      );
    }
  });
  after(async () => farm?.stop());

  it("the CLI takes a unique prefix and PIPELINE#NUMBER where it takes a run id", async () => {
    const byName = await dockyard(farm, ["cancel", "refs#2"]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(byName.stdout, `run ${second} canceled\n`);
    const byPrefix = await dockyard(farm, ["cancel", first.slice(0, 8).toUpperCase()]);
    assert.equal(byPrefix.code, 0, byPrefix.stderr);
    assert.equal(byPrefix.stdout, `run ${first} canceled\n`);
    const logs = await dockyard(farm, ["logs", first.slice(0, 6), "s"]);
    assert.equal(logs.code, 0, logs.stderr);
    const watched = await dockyard(farm, ["watch", "refs#1", "--json"]);
    assert.equal(watched.code, 1, "a canceled run's watch exits 1");
    const events = watched.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { runId: string; type: string; state?: string });
    assert.ok(events.length > 0 && events.every((e) => e.runId === first));
    assert.deepEqual(events.at(-1), { ...events.at(-1), type: "run", state: "canceled" });
    const live = await dockyard(farm, ["watch", first.slice(0, 7)]);
    assert.match(live.stdout, new RegExp(`run ${first} canceled`), "the live view names the run by its full id");
  });

  it("the CLI names the problem: ambiguous (listing the candidates), not found, malformed", async () => {
    const ambiguous = await dockyard(farm, ["logs", "abcdef0"]);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.stderr, /run id prefix 'abcdef0' is ambiguous; it matches 2 runs:/);
    assert.match(ambiguous.stderr, new RegExp(`${TWIN_A} twins#1 succeeded`));
    assert.match(ambiguous.stderr, new RegExp(`${TWIN_B} twins#2 succeeded`));
    // Positive control: one more character makes it unique.
    assert.equal((await dockyard(farm, ["logs", "abcdef01"])).code, 0);

    const none = await dockyard(farm, ["watch", "ffffff"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /run not found: no run id starts with 'ffffff'/);
    const noNumber = await dockyard(farm, ["cancel", "refs#9"]);
    assert.equal(noNumber.code, 1);
    assert.match(noNumber.stderr, /run not found: pipeline 'refs' has no run #9/);
    const short = await dockyard(farm, ["logs", "abcde"]);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /run id prefix 'abcde' is too short: give at least 6 characters/);
    const malformed = await dockyard(farm, ["logs", "not a run"]);
    assert.equal(malformed.code, 1);
    assert.match(
      malformed.stderr,
      /invalid run 'not a run': expected a run id, a unique prefix of one \(6 characters or more\) or PIPELINE#NUMBER/,
    );
  });

  it("the runs list has one cap for the CLI, gRPC and HTTP", async () => {
    await assert.rejects(
      farm.client.listRuns({ limit: 501, state: "" }),
      /invalid limit '501': expected a whole number from 1 to 500/,
    );
    assert.equal((await farm.client.listRuns({ limit: 500, state: "" })).runs.length, 4, "500 is allowed");
    const cli = await dockyard(farm, ["runs", "-n", "501"]);
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /limit must be/);
    assert.equal((await http(farm, "GET", "/runs?limit=501")).status, 400);
  });

  it("the HTTP API takes the same forms and answers 400 (malformed, ambiguous) or 404", async () => {
    const byPrefix = await http(farm, "GET", `/runs/${second.slice(0, 10)}`);
    assert.equal(byPrefix.status, 200);
    assert.equal((byPrefix.json.run as RunJson).id, second);
    const byName = await http(farm, "GET", `/runs/${encodeURIComponent("refs#1")}`);
    assert.equal(byName.status, 200);
    assert.equal((byName.json.run as RunJson).id, first);
    const cancel = await http(farm, "POST", `/runs/${encodeURIComponent("twins#2")}/cancel`);
    assert.equal(cancel.status, 409, "a finished run cannot be canceled, found by name#number");
    assert.match(cancel.json.error.message, new RegExp(`run ${TWIN_B} already finished: succeeded`));

    const ambiguous = await http(farm, "GET", "/runs/abcdef0");
    assert.equal(ambiguous.status, 400);
    assert.equal(ambiguous.json.error.code, "invalid");
    assert.deepEqual(ambiguous.json.error.problems.map((p: string) => p.split(" ")[0]).sort(), [TWIN_A, TWIN_B]);
    assert.equal((await http(farm, "GET", "/runs/ffffff")).status, 404);
    assert.equal((await http(farm, "GET", `/runs/${encodeURIComponent("refs#9")}`)).status, 404);
    const malformed = await http(farm, "GET", "/runs/x%20y");
    assert.equal(malformed.status, 400);
    assert.match(malformed.json.error.message, /invalid run 'x y'/);
  });
});
