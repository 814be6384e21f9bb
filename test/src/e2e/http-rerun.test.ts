// Re-running a run on a real farm (a shell agent): the whole run over HTTP (every stage again),
// and from its failed stages over the CLI (`dockyard rerun RUN --failed`, gRPC): the stage that
// failed and what needs it run again, the succeeded ones are kept with their outputs (a later
// stage reads the kept output), nothing of the first run changes, and each re-run is audited.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { AuditEntryView, ErrorBody, RunView } from "@dockyard/web";
import { tempDir } from "@dockyard/testkit";
import { dockyardCli, startFarm, waitFor, type Farm } from "../index";

describe("re-run a run, whole or from its failed stages", { timeout: 180_000 }, () => {
  let farm: Farm;
  let marker: string;
  let viewer: string;
  before(async () => {
    farm = await startFarm({ agents: [{ name: "rr-sh", executor: "shell", capacity: 4 }] });
    marker = path.join(tempDir("rerun"), "fixed");
    await farm.client.addUser({ name: "rr-viewer", roles: ["viewer"] });
    viewer = (await farm.client.createApiToken({ user: "rr-viewer" })).token;
  });
  after(async () => farm?.stop());

  // `flaky` fails until the marker exists; `report` reads build's output, which a kept build must still give.
  const pipeline = () => `name: rerun-demo
stages:
  build:
    executor: shell
    commands: ['echo "stamp=$(date +%s%N)-$$" >> "$DOCKYARD_OUTPUT"']
  side:
    executor: shell
    needs: [build]
    commands: ["echo side"]
  flaky:
    executor: shell
    needs: [build]
    commands: ["test -f ${marker}"]
  report:
    executor: shell
    needs: [flaky, build]
    commands: ["echo report saw \${{ stages.build.outputs.stamp }}"]
`;

  async function call(method: string, p: string, opts: { body?: string; token?: string } = {}) {
    const res = await fetch(`${farm.server.httpUrl}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${opts.token ?? farm.apiToken}` },
      body: opts.body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const getRun = async (id: string) => (await call("GET", `/runs/${id}`)).body.run as RunView;
  const finished = (id: string) =>
    waitFor(
      async () => {
        const run = await getRun(id);
        return ["succeeded", "failed", "errored", "canceled"].includes(run.state) ? run : undefined;
      },
      { timeoutMs: 60_000, message: `run ${id} to finish` },
    );
  const stage = (run: RunView, name: string) => run.stages.find((s) => s.name === name)!;
  const log = async (runId: string, name: string) => {
    const res = await fetch(`${farm.server.httpUrl}/api/v1/runs/${runId}/stages/${name}/logs`, {
      headers: { authorization: `Bearer ${farm.apiToken}` },
    });
    return res.text();
  };

  it("re-runs from the failed stage: it and its dependents run again, the succeeded ones keep their outputs", async () => {
    const submitted = await call("POST", "/runs", { body: pipeline() });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const first = await finished((submitted.body.run as RunView).id);
    assert.equal(first.state, "failed");
    assert.deepEqual(
      first.stages.map((s) => [s.name, s.state]),
      [
        ["build", "succeeded"],
        ["side", "succeeded"],
        ["flaky", "failed"],
        ["report", "skipped"],
      ],
    );
    const stamp = stage(first, "build").outputs!.values.stamp!;
    assert.match(stamp, /^\d+-\d+$/);

    // Refusals first: a bad `from`, a viewer.
    const bad = await call("POST", `/runs/${first.id}/rerun?from=succeeded`);
    assert.equal(bad.status, 400);
    assert.equal((bad.body as unknown as ErrorBody).error.field, "from");
    const denied = await call("POST", `/runs/${first.id}/rerun?from=failed`, { token: viewer });
    assert.equal(denied.status, 403);

    writeFileSync(marker, "");
    assert.ok(existsSync(marker));
    const cli = await dockyardCli(farm, ["rerun", first.id, "--failed", "--json"]);
    assert.equal(cli.code, 0, cli.stderr);
    const started = JSON.parse(cli.stdout) as { id: string };
    const second = await finished(started.id);
    assert.equal(second.state, "succeeded", JSON.stringify(second.stages.map((s) => [s.name, s.state, s.reason])));
    assert.notEqual(second.id, first.id);
    for (const kept of ["build", "side"]) {
      const s = stage(second, kept);
      assert.equal(s.state, "succeeded", kept);
      assert.equal(s.attempts, 0, `${kept} did not run again`);
      assert.deepEqual(s.attemptHistory, []);
      assert.equal(s.reason, `reused from run ${first.id}`);
    }
    assert.equal(stage(second, "build").outputs!.values.stamp, stamp, "build's outputs are the first run's");
    for (const again of ["flaky", "report"]) assert.equal(stage(second, again).attempts, 1, `${again} ran again`);
    assert.match(await log(second.id, "report"), new RegExp(`report saw ${stamp}`), "report read the kept output");

    // The first run is as it was.
    const firstAfter = await getRun(first.id);
    assert.deepEqual(
      firstAfter.stages.map((s) => [s.name, s.state, s.attempts]),
      first.stages.map((s) => [s.name, s.state, s.attempts]),
    );
    // Nothing failed any more: from=failed refuses (409), naming why.
    const nothing = await call("POST", `/runs/${second.id}/rerun?from=failed`);
    assert.equal(nothing.status, 409);
    assert.match((nothing.body as unknown as ErrorBody).error.message, /nothing failed to re-run/);

    // The whole run over HTTP: every stage runs again, build makes a new stamp.
    const whole = await call("POST", `/runs/${first.id}/rerun`);
    assert.equal(whole.status, 201, JSON.stringify(whole.body));
    const third = await finished((whole.body.run as RunView).id);
    assert.equal(third.state, "succeeded");
    for (const s of third.stages) assert.equal(s.attempts, 1, `${s.name} ran`);
    assert.notEqual(stage(third, "build").outputs!.values.stamp, stamp);

    const entries = (await call("GET", "/audit?limit=1000")).body.entries as AuditEntryView[];
    const reruns = entries.filter((e) => e.action === "run.rerun");
    assert.deepEqual(
      reruns.map((e) => [e.target, e.details.from, e.details.mode, e.details.reused]),
      [
        [second.id, first.id, "failed", ["build", "side"]],
        [third.id, first.id, "all", []],
      ],
    );
    assert.ok(
      reruns.every((e) => e.actor === reruns[0]!.actor && e.actor !== "server"),
      "by the caller",
    );
  });

  it("refuses to re-run a run that has not finished, and an unknown run", async () => {
    const submitted = await call("POST", "/runs", {
      body: "name: rr-slow\nstages:\n  wait:\n    executor: shell\n    commands: ['sleep 30']\n",
    });
    const id = (submitted.body.run as RunView).id;
    const res = await call("POST", `/runs/${id}/rerun`);
    assert.equal(res.status, 409);
    assert.match((res.body as unknown as ErrorBody).error.message, /only a finished run can be re-run/);
    assert.equal((await call("POST", `/runs/${id}/cancel`)).status, 200);
    const missing = await call("POST", "/runs/00000000-0000-0000-0000-000000000000/rerun");
    assert.equal(missing.status, 404);
  });
});
