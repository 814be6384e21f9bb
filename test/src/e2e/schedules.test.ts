// Schedules against real servers: a 10-second cron makes runs; a run still going when the next
// tick comes makes that tick skipped, naming the run, and the tick after it ends runs again;
// with two replicas ticking, each tick makes exactly one run; pause stops the ticks, resume
// brings them back. Real time throughout (the shortest cron interval is 10 s).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Registry } from "prom-client";
import { startServer, type ServerHandle } from "@dockyard/control-plane";
import { tempDir } from "@dockyard/testkit";
import {
  dockyardCli,
  projectDir,
  shellPipeline,
  startFarm,
  testLog,
  ticksOf,
  waitFor,
  waitForRun,
  waitForTick,
  type Farm,
} from "../index";

describe("schedules", () => {
  let farm: Farm;
  let second: ServerHandle;
  before(async () => {
    farm = await startFarm({
      agents: [{ name: "sched-a", executor: "shell", capacity: 4 }],
      env: { DOCKYARD_SCHEDULE_POLL_MS: "200" },
    });
    // A second replica in this process, on the same database and NATS prefix: both tick.
    second = await startServer(
      { ...farm.config, grpcListen: "127.0.0.1:0", httpListen: "127.0.0.1:0" },
      { log: testLog(), registry: new Registry() },
    );
  });
  after(async () => {
    await second?.stop();
    await farm?.stop();
  });

  it("runs every 10 s; a tick while the last run is running is skipped, naming it; the next one runs", async () => {
    const gate = tempDir("schedule-gate");
    const release = path.join(gate, "release");
    const dir = projectDir({ "slow.yml": shellPipeline("slow", `while [ ! -f ${release} ]; do sleep 0.1; done`) });
    const add = await dockyardCli(farm, [
      "schedules",
      "add",
      "slow",
      "--cron",
      "*/10 * * * * *",
      "-f",
      path.join(dir, "slow.yml"),
      "--json",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout) as { name: string; cron: string; timezone: string; owner: string };
    assert.deepEqual([added.name, added.cron, added.timezone, added.owner], ["slow", "*/10 * * * * *", "UTC", "admin"]);

    const first = await waitForTick(farm, "slow", (t) => t.runId !== "", { message: "the first tick's run" });
    assert.equal(first.runRef, "slow#1");
    assert.equal(first.kind, "cron");
    // The run waits on the gate: the next tick finds it running.
    const skipped = await waitForTick(farm, "slow", (t) => t.skipped !== "", { message: "a skipped tick" });
    assert.match(skipped.skipped, /^previous run slow#1 still (running|queued)$/);
    assert.ok(skipped.at - first.at >= 9_000, `ticks ${skipped.at - first.at} ms apart`);
    // Positive control: once the run ends, the next tick makes run #2.
    writeFileSync(release, "");
    assert.equal((await waitForRun(farm.client, first.runId, 30_000)).state, "succeeded");
    const next = await waitForTick(farm, "slow", (t) => t.runRef === "slow#2", { message: "the tick after the run" });
    assert.ok(next.at > skipped.at);

    const ticks = await dockyardCli(farm, ["schedules", "ticks", "slow", "--json"]);
    assert.equal(ticks.code, 0, ticks.stderr);
    const listed = JSON.parse(ticks.stdout) as { run: { ref: string } | null; skipped: string | null }[];
    assert.ok(listed.some((t) => t.skipped?.startsWith("previous run slow#1 still")));
    assert.ok(listed.some((t) => t.run?.ref === "slow#2"));
    // The run carries the schedule's source and owner, like a `dockyard run` of the file.
    const run = await farm.client.getRun({ runId: next.runId });
    assert.deepEqual([run.run?.source, run.run?.startedBy], ["cli:slow.yml", "admin"]);
    const audit = await farm.pg.query<{ action: string }>(
      "SELECT action FROM audit_log WHERE target = 'slow' AND action LIKE 'schedule.%'",
    );
    assert.deepEqual(
      audit.rows.map((r) => r.action),
      ["schedule.created"],
    );
    assert.equal((await dockyardCli(farm, ["schedules", "rm", "slow"])).code, 0);
  });

  it("with two replicas ticking, each tick makes exactly one run; pause stops ticks and resume restarts them", async () => {
    await farm.client.createSchedule({
      name: "fast",
      cron: "*/10 * * * * *",
      pipelineYaml: new TextEncoder().encode(shellPipeline("fast", "echo tick")),
      source: "test:fast.yml",
    });
    await waitFor(async () => (await ticksOf(farm, "fast")).length >= 3, {
      timeoutMs: 45_000,
      intervalMs: 500,
      message: "three ticks of fast",
    });
    const ticks = await ticksOf(farm, "fast");
    const runs = await farm.pg.query<{ number: number }>("SELECT number FROM runs WHERE name = 'fast' ORDER BY number");
    // One run per tick, and every tick a run (each echo ends long before the next tick).
    assert.deepEqual(
      ticks.map((t) => [t.kind, t.skipped]),
      ticks.map(() => ["cron", ""]),
    );
    assert.deepEqual(
      runs.rows.map((r) => `fast#${r.number}`),
      ticks.map((t) => t.runRef),
    );
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]!.at - ticks[i - 1]!.at >= 9_000, "ticks 10 s apart");

    const paused = await dockyardCli(farm, ["schedules", "pause", "fast"]);
    assert.equal(paused.stdout, "paused schedule fast\n");
    const count = (await ticksOf(farm, "fast")).length;
    // Past the time the next tick was due (and a poll after it), still no tick...
    const list = await farm.client.listSchedules({});
    const nextAt = Number(list.schedules.find((s) => s.name === "fast")!.nextAtMs);
    await waitFor(() => Date.now() > nextAt + 1_000, { timeoutMs: 15_000, message: "past the paused tick" });
    assert.equal((await ticksOf(farm, "fast")).length, count);
    // ...and resumed, the next one comes (positive control).
    assert.equal((await dockyardCli(farm, ["schedules", "resume", "fast"])).code, 0);
    await waitForTick(farm, "fast", (t) => t.runId !== "", { from: count, message: "a tick after resume" });
    const listing = await dockyardCli(farm, ["schedules"]);
    assert.match(listing.stdout, /^fast +\*\/10 \* \* \* \* \* +UTC +enabled/m);
  });
});
