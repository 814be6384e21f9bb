// Schedule modes against a real server: continuous ticks while a service the journey tests is
// rolling or watching (every DOCKYARD_CONTINUOUS_INTERVAL, never overlapping), cron cadence
// otherwise; ticks missed while no server ran fire once; the owner's roles are checked at every
// tick; and input errors on the CLI and HTTP name the problem.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { tempDir } from "@dockyard/testkit";
import {
  dockyardCli,
  freePort,
  projectDir,
  runningAttempt,
  shellPipeline,
  startFarm,
  submit,
  ticksOf,
  waitFor,
  waitForRun,
  waitForTick,
  type Farm,
} from "../index";

const YEARLY = "0 0 1 1 *";

describe("schedule modes", () => {
  let farm: Farm;
  before(async () => {
    farm = await startFarm({
      agents: [{ name: "modes-a", executor: "shell", capacity: 4 }],
      // Fixed ports: the server stops and starts again (missed ticks) and clients keep its address.
      env: {
        DOCKYARD_SCHEDULE_POLL_MS: "200",
        DOCKYARD_CONTINUOUS_INTERVAL: "1s",
        DOCKYARD_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
        DOCKYARD_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
      },
    });
  });
  after(async () => farm?.stop());

  const create = (name: string, cron: string, yaml: string) =>
    farm.client.createSchedule({ name, cron, pipelineYaml: new TextEncoder().encode(yaml), source: `test:${name}` });

  it("ticks every continuous interval while its service rolls or watches, and by its cron otherwise", async () => {
    await create("journey", YEARLY, shellPipeline("journey", "echo journey"));
    // What creation stores from a pipeline's ui-test stages (`service: web`); set here as the kind lands elsewhere.
    await farm.pg.query(`UPDATE schedules SET services = '["web"]' WHERE name = 'journey'`);
    // An update of web holding its deploy queue: an active attempt, first in service_deploys.
    const gate = tempDir("update-gate");
    const updateRun = await submit(
      farm.client,
      shellPipeline("update-web", `while [ ! -f ${gate}/done ]; do sleep 0.1; done`),
    );
    const attemptId = await runningAttempt(farm, updateRun);
    await farm.pg.query(
      `INSERT INTO service_deploys (attempt_id, service, run_id, holder_text, requested_at) VALUES ($1, 'web', $2, 'x', now())`,
      [attemptId, updateRun],
    );
    const phase = (p: string) =>
      farm.pg.query(`UPDATE attempts SET server_state = jsonb_build_object('phase', $2::text) WHERE id = $1`, [
        attemptId,
        p,
      ]);
    // Queued behind nothing yet (not rolling): no continuous tick over several intervals...
    await phase("queued");
    const other = await create("other", "*/10 * * * * *", shellPipeline("other", "echo other"));
    assert.ok(other.schedule);
    await waitForTick(farm, "other", (t) => t.runId !== "", { message: "the cron schedule's tick (a beat ran)" });
    assert.equal((await ticksOf(farm, "journey")).length, 0);
    // ...rolling: it ticks every second or so, each run after the last ended.
    await phase("rolling");
    await waitFor(async () => (await ticksOf(farm, "journey")).filter((t) => t.runId).length >= 3, {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: "three continuous runs",
    });
    await phase("watching");
    const before = (await ticksOf(farm, "journey")).length;
    await waitForTick(farm, "journey", (t) => t.runId !== "", { from: before, message: "a tick while watching" });
    const ticks = await ticksOf(farm, "journey");
    assert.ok(ticks.every((t) => t.kind === "continuous"));
    for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]!.at - ticks[i - 1]!.at >= 950, "an interval apart");
    for (const t of ticks.filter((x) => x.skipped)) assert.match(t.skipped, /^previous run journey#\d+ still /);
    // The update ends: back to the (yearly) cron, no more ticks while `other` keeps ticking.
    writeFileSync(path.join(gate, "done"), "");
    await waitForRun(farm.client, updateRun);
    await waitFor(async () => !(await ticksOf(farm, "journey")).some((t) => !t.runId && !t.skipped), {
      message: "settled",
    });
    const settled = (await ticksOf(farm, "journey")).length;
    const otherCount = (await ticksOf(farm, "other")).length;
    await waitForTick(farm, "other", () => true, { from: otherCount, message: "another cron tick (positive control)" });
    assert.equal((await ticksOf(farm, "journey")).length, settled);
    await farm.client.deleteSchedule({ name: "other" });
  });

  it("ticks missed while no server ran fire once, saying how many", async () => {
    await farm.stopServer();
    await farm.pg.query(
      `INSERT INTO schedules (id, name, cron, timezone, pipeline_yaml, source, services, owner_id, next_at, created_at, updated_at)
       SELECT gen_random_uuid()::text, 'missed', '*/10 * * * * *', 'UTC', $1, 'test:missed', '[]', id,
         to_timestamp(floor(extract(epoch FROM now()) / 10) * 10 - 30), now(), now() FROM users WHERE name = 'admin'`,
      [shellPipeline("missed", "echo missed")],
    );
    await farm.startServer();
    const tick = await waitForTick(farm, "missed", () => true, { message: "the catch-up tick" });
    assert.equal(tick.kind, "catch-up");
    // Due at each 10 s boundary from the stored next_at (30 s before the insert) up to the tick: 4, or 5 when a
    // boundary passed meanwhile.
    const m = /^(\d+) ticks fell due while no server ran \(from (\S+)\): fired once$/.exec(tick.note);
    assert.ok(m, tick.note);
    assert.equal(Number(m[1]), Math.floor((tick.at - Date.parse(m[2]!)) / 10_000) + 1);
    assert.ok(Number(m[1]) >= 4, tick.note);
    assert.equal(tick.runRef, "missed#1");
    // One run for the four, and the schedule is back on its cadence.
    const [next] = (await farm.client.listSchedules({})).schedules.filter((s) => s.name === "missed");
    assert.ok(Number(next!.nextAtMs) > tick.at);
    const runs = await farm.pg.query("SELECT 1 FROM runs WHERE name = 'missed'");
    assert.equal(runs.rowCount, 1);
    await farm.client.deleteSchedule({ name: "missed" });
  });

  it("checks the owner at every tick: a disabled owner's schedule records why it made no run", async () => {
    await farm.client.addUser({ name: "olga", roles: ["operator"] });
    const { token } = await farm.client.createApiToken({ user: "olga" });
    const dir = projectDir({ "o.yml": shellPipeline("owned", "echo owned") }, "owned");
    const add = await dockyardCli(
      farm,
      ["schedules", "add", "owned", "--cron", "*/10 * * * * *", "-f", `${dir}/o.yml`],
      undefined,
      {
        DOCKYARD_TOKEN: token,
      },
    );
    assert.equal(add.code, 0, add.stderr);
    const ran = await waitForTick(farm, "owned", (t) => t.runId !== "", { message: "a run as olga" });
    assert.equal((await farm.client.getRun({ runId: ran.runId })).run?.startedBy, "olga");
    await farm.client.disableUser({ name: "olga" });
    const refused = await waitForTick(farm, "owned", (t) => t.skipped !== "", { message: "a refused tick" });
    assert.equal(refused.skipped, "owner olga is disabled");
  });

  it("refuses bad input on the CLI and HTTP, naming the problem", async () => {
    const dir = projectDir({
      "p.yml": shellPipeline("p", "echo p"),
      "bad.yml": "name: p\nstages:\n  x: { executor: shell }\n",
    });
    const cli = (...args: string[]) => dockyardCli(farm, ["schedules", ...args]);
    const cases: [string[], RegExp][] = [
      [
        ["add", "a", "--cron", "* * *", "-f", `${dir}/p.yml`],
        /has 3 fields: expected 5 \(minute hour day month weekday\) or 6/,
      ],
      [
        ["add", "a", "--cron", "*/5 * * * * *", "-f", `${dir}/p.yml`],
        /fires 5 s apart .*shortest interval allowed is 10 s/,
      ],
      [["add", "a", "--cron", "61 * * * *", "-f", `${dir}/p.yml`], /invalid: .*minute/],
      [
        ["add", "a", "--cron", "0 3 * * *", "--tz", "Mars/Olympus", "-f", `${dir}/p.yml`],
        /unknown timezone 'Mars\/Olympus'/,
      ],
      [["add", "a", "--cron", "0 3 * * *", "-f", `${dir}/bad.yml`], /bad\.yml:3:/],
      [["add", "a", "-f", `${dir}/p.yml`], /needs --cron EXPR/],
      [["add", "a", "--cron", "0 3 * * *"], /needs -f FILE/],
      [["add", "no/slash", "--cron", "0 3 * * *", "-f", `${dir}/p.yml`], /invalid schedule name 'no\/slash'/],
      [["rm", "nope"], /schedule not found: nope/],
      [["ticks", "nope"], /schedule not found: nope/],
      [["ticks", "journey", "--limit", "9999"], /invalid --limit '9999'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, message, args.join(" "));
    }
    // Positive control: the same file and cron are accepted.
    const ok = await cli("add", "a", "--cron", "0 3 * * *", "-f", `${dir}/p.yml`);
    assert.equal(ok.code, 0, ok.stderr);
    const dup = await cli("add", "a", "--cron", "0 3 * * *", "-f", `${dir}/p.yml`);
    assert.match(dup.stderr, /schedule 'a' already exists/);

    const http = (method: string, route: string, body?: unknown) =>
      fetch(`${farm.server.httpUrl}/api/v1${route}`, {
        method,
        headers: { authorization: `Bearer ${farm.apiToken}`, "content-type": "application/json" },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
    const good = { name: "h", cron: "0 3 * * *", pipeline: shellPipeline("h", "echo h") };
    const bad: [unknown, number, RegExp][] = [
      ["{not json", 400, /request body must be JSON/],
      [{ ...good, color: "red" }, 400, /unknown field 'color'/],
      [{ ...good, cron: undefined }, 400, /cron is required/],
      [{ ...good, cron: "*/2 * * * * *" }, 400, /fires 2 s apart/],
      [{ ...good, timezone: "Nowhere/City" }, 400, /unknown timezone 'Nowhere\/City'/],
      [{ ...good, name: "bad name" }, 400, /invalid schedule name 'bad name'/],
      [{ ...good, pipeline: "stages: 3" }, 400, /pipeline is invalid/],
      [{ ...good, name: "a" }, 409, /schedule 'a' already exists/],
    ];
    for (const [body, status, message] of bad) {
      const res = await http("POST", "/schedules", body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match(((await res.json()) as { error: { message: string } }).error.message, message);
    }
    assert.equal((await http("GET", "/schedules/nope/ticks?limit=0")).status, 400);
    assert.equal((await http("GET", "/schedules/nope")).status, 404);
    const created = await http("POST", "/schedules", good);
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { schedule: { owner: string } }).schedule.owner, "admin");
    assert.equal((await http("POST", "/schedules/h/pause")).status, 200);
    const one = (await (await http("GET", "/schedules/h")).json()) as { schedule: { enabled: boolean } };
    assert.equal(one.schedule.enabled, false);
    assert.equal((await http("DELETE", "/schedules/h")).status, 200);
    // A viewer reads but may not write.
    await farm.client.addUser({ name: "vic", roles: ["viewer"] });
    const { token } = await farm.client.createApiToken({ user: "vic" });
    const asViewer = (method: string, body?: unknown) =>
      fetch(`${farm.server.httpUrl}/api/v1/schedules`, {
        method,
        headers: { authorization: `Bearer ${token}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    assert.equal((await asViewer("GET")).status, 200);
    assert.equal((await asViewer("POST", { ...good, name: "v" })).status, 403);
  });
});
