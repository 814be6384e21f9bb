// The contract of server-run stage kinds, run over every server kind (approval, notify, and a
// test-only `hold` kind that waits for a timer or a signal; notify ends in its start, so its
// start, outputs, cancel, timeout and restart have their own cases): the runner claims a queued
// server stage once even with two runners racing; start, outputs, cancel, a stage
// `timeout:` and a restart (a new runner on the same database resumes timers that came
// due while none ran); the agent claim never takes a server stage; a kind that throws
// ends its stage as errored with its message. The spawn case (children on the agent claim,
// onChildEnded) is server-stages-spawn.test.ts; on real agents, server-children.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import pg from "pg";
import pino from "pino";
import {
  cancelRun,
  SERVER_ACTOR,
  claimAndPlace,
  openDatabase,
  SERVER_KINDS,
  ServerStageRunner,
  systemClock,
  type Database,
  type ServerRunnerHooks,
  type ServerStageKind,
} from "@dockyard/control-plane";
import { createTestDatabase, waitFor, type TestDatabase } from "../index";
import { tempDir } from "@dockyard/testkit";

/** Test-only: waits for a `go` timer (ms in its spec) or any signal, then succeeds with an output. */
const hold: ServerStageKind = {
  type: "hold",
  runsOn: "server",
  retry: { count: 0, on: [] },
  start: async (stage, ctx) => {
    const ms = (stage.spec as { goMs?: number }).goMs;
    await ctx.setState({ started: true });
    if (ms !== undefined) await ctx.setTimer(new Date(ctx.now().getTime() + ms), "go");
    await ctx.waiting("holding");
  },
  onTimer: async (stage, what, ctx) => {
    if (what === "go")
      await ctx.finish("succeeded", "", { values: { by: "timer", started: String(stage.state.started) } });
  },
  onSignal: async (_stage, signal, ctx) => ctx.finish("succeeded", "", { values: { by: signal.by } }),
  cancel: async (_stage, ctx) => ctx.event({ action: "canceled" }),
};

const KINDS: Record<string, ServerStageKind> = { ...SERVER_KINDS, hold };
const APPROVAL_SPEC = {
  type: "approval",
  approvers: { users: ["alice"], roles: [] },
  timeoutMs: 60_000,
  onTimeout: "reject",
  forbidSelf: false,
  reminderMs: null,
  instructions: "",
};

describe("server-run stage kinds: the contract", () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  let dataDir: string;
  const runners: ServerStageRunner[] = [];
  const hooks: ServerRunnerHooks = { ended: () => undefined, publish: () => undefined };
  const runner = (kinds = KINDS) => {
    const r = new ServerStageRunner(database.db, kinds, systemClock, hooks, pino({ level: "silent" }));
    runners.push(r);
    return r;
  };

  before(async () => {
    testDb = await createTestDatabase();
    dataDir = tempDir("server-stages");
    database = await openDatabase({ databaseUrl: testDb.url, dataDir });
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    await client.query(
      `INSERT INTO agents (id, name, labels, capacity, state, session_id, join_token_id, capabilities, registered_at, last_heartbeat_at)
      VALUES ($1, 'any', '{}', 4, 'online', 'h', 'j', '["docker","shell","build"]', now(), now())`,
      [randomUUID()],
    );
  });
  after(async () => {
    for (const r of runners) r.stop();
    await client?.end();
    await database?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A run with one queued server stage of `spec.type`. */
  async function serverRun(
    spec: Record<string, unknown>,
    timeoutMs: number | null = null,
  ): Promise<{ runId: string; stageId: string }> {
    const runId = randomUUID();
    const stageId = randomUUID();
    await client.query(
      `INSERT INTO runs (id, name, state, pipeline_yaml, created_at, number) VALUES ($1, 'gate', 'queued', '', now(), 1)`,
      [runId],
    );
    await client.query(
      `INSERT INTO stages (id, run_id, name, position, state, type, runs_on, spec, retry_count, retry_on, queued_at, timeout_ms)
      VALUES ($1, $2, 'gate', 0, 'queued', $3, 'server', $4, 0, '[]', now(), $5)`,
      [stageId, runId, spec.type, JSON.stringify({ kind: spec, refs: [] }), timeoutMs],
    );
    return { runId, stageId };
  }
  const stageOf = async (stageId: string) =>
    (await client.query(`SELECT state, reason, agent_id, outputs FROM stages WHERE id = $1`, [stageId])).rows[0];
  const runState = async (runId: string) =>
    (await client.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state as string;
  const timersOf = async (stageId: string) =>
    Number(
      (
        await client.query(
          `SELECT count(*) FROM server_timers t JOIN attempts a ON a.id = t.attempt_id WHERE a.stage_id = $1`,
          [stageId],
        )
      ).rows[0].count,
    );

  it("starts a queued server stage once with two runners racing; the agent claim never takes it; a timer ends it with outputs", async () => {
    const { runId, stageId } = await serverRun({ type: "hold", goMs: 300 });
    const placed = await claimAndPlace(database.db, 10, new Date(), 60_000);
    assert.equal(placed.placements.length, 0, "the agent claim leaves server stages alone");
    const [a, b] = [runner(), runner()];
    const counts = await Promise.all([a.pass(), b.pass()]);
    assert.equal(counts[0]! + counts[1]!, 1, "claimed by exactly one runner");
    assert.deepEqual(await stageOf(stageId), {
      state: "running",
      reason: "holding",
      agent_id: "server",
      outputs: null,
    });
    // The runner that wrote the timer woke itself for it (no beat runs here).
    await waitFor(async () => (await stageOf(stageId)).state === "succeeded", {
      message: "the timer fired",
      timeoutMs: 2000,
    });
    const stage = await stageOf(stageId);
    assert.equal(stage.state, "succeeded");
    assert.deepEqual(
      stage.outputs,
      { values: { by: "timer", started: "true" } },
      "the state written at start was read by the timer call",
    );
    assert.equal(await runState(runId), "succeeded");
  });

  // Kinds that wait (for a timer or a signal); notify ends in its start (its own contract below).
  // update-service spawns agent steps from its start and keeps no events of its own (its progress
  // is its waiting reason): its cancel, timeout and restart are in the services-* e2e tests.
  for (const type of Object.keys(KINDS).filter((t) => t !== "notify" && t !== "update-service")) {
    const spec = type === "approval" ? APPROVAL_SPEC : { type };
    it(`${type}: a run cancel calls the kind's cancel, ends the stage canceled and drops its timers`, async () => {
      const { runId, stageId } = await serverRun(spec, 60_000);
      const r = runner();
      assert.equal(await r.pass(), 1);
      assert.equal(await timersOf(stageId), 1, "a deadline or stage-timeout timer is armed");
      const { ended, serverEvents } = await cancelRun(
        database.db,
        runId,
        new Date(),
        SERVER_ACTOR,
        (tx, attemptId, now) => r.cancelInTx(tx, attemptId, now),
      );
      assert.equal(ended.length, 1);
      assert.deepEqual(
        serverEvents.map((e) => [e.kind, e.payload.action]),
        [[type, "canceled"]],
      );
      assert.equal((await stageOf(stageId)).state, "canceled");
      assert.equal(await runState(runId), "canceled");
      assert.equal(await timersOf(stageId), 0, "the cancel dropped its timers");
      assert.equal((await stageOf(stageId)).state, "canceled");
    });

    it(`${type}: a deadline that passed while no runner ran fires at once on a new runner's start (restart)`, async () => {
      const { runId, stageId } = await serverRun(
        type === "approval" ? { ...APPROVAL_SPEC, timeoutMs: 400 } : spec,
        type === "approval" ? null : 400,
      );
      const first = runner();
      assert.equal(await first.pass(), 1);
      first.stop();
      // Nothing runs now; the deadline passes (by the database's clock, which stores it).
      const due = async () =>
        (
          await client.query(
            `SELECT bool_and(t.fire_at < now()) AS due FROM server_timers t JOIN attempts a ON a.id = t.attempt_id WHERE a.stage_id = $1`,
            [stageId],
          )
        ).rows[0]?.due === true;
      await waitFor(due, { message: "the stored deadline to pass", timeoutMs: 5000 });
      assert.equal((await stageOf(stageId)).state, "running", "no runner: nothing fired");
      const t0 = Date.now();
      runner().start(10_000);
      await waitFor(async () => (await stageOf(stageId)).state === "failed", {
        message: "the overdue deadline fired",
        timeoutMs: 2000,
      });
      assert.ok(Date.now() - t0 < 2000);
      const reason = (await stageOf(stageId)).reason as string;
      assert.match(
        reason,
        type === "approval"
          ? /^no decision by .* UTC: rejected \(on_timeout: reject\)$/
          : /^stage exceeded its timeout$/,
      );
      assert.equal(await runState(runId), "failed");
    });
  }

  describe("notify: ends in its start", () => {
    const deliveriesOf = async (runId: string) =>
      (
        await client.query(`SELECT channel, event, subject, state FROM deliveries WHERE run_id = $1 ORDER BY channel`, [
          runId,
        ])
      ).rows;
    before(async () => {
      for (const [name, disabled] of [
        ["ops", null],
        ["mail", null],
        ["off", "too many failures"],
      ] as const) {
        await client.query(
          `INSERT INTO channels (name, type, config, secret_refs, created_at, disabled_at, disabled_reason)
          VALUES ($1, 'webhook', '{"url":"http://127.0.0.1:9/"}', '{}', now(), $2, $3)`,
          [name, disabled ? new Date() : null, disabled],
        );
      }
    });
    const NOTIFY = { type: "notify", channels: ["ops", "mail"], subject: "hi {{ run.name }}", body: "b" };

    it("notify: start queues one message per channel and ends the stage succeeded with outputs; its stage timeout timer is dropped", async () => {
      const { runId, stageId } = await serverRun(NOTIFY, 60_000);
      assert.equal(await runner().pass(), 1);
      const stage = await stageOf(stageId);
      assert.equal(stage.state, "succeeded");
      assert.equal(stage.reason, "sent to ops, mail");
      const sent = await deliveriesOf(runId);
      assert.deepEqual(
        sent.map((d) => [d.channel, d.event, d.subject, d.state]),
        [
          ["mail", "stage.notify", "hi {{ run.name }}", "pending"],
          ["ops", "stage.notify", "hi {{ run.name }}", "pending"],
        ],
      );
      const ids = (await client.query(`SELECT id FROM deliveries WHERE run_id = $1`, [runId])).rows.map(
        (r) => r.id as string,
      );
      assert.deepEqual(stage.outputs.values.message_ids.split(",").sort(), ids.sort());
      assert.equal(stage.outputs.values.channels, "ops,mail");
      assert.equal(await timersOf(stageId), 0, "the stage-timeout timer went with the end");
      assert.equal(await runState(runId), "succeeded");
    });

    it("notify: a missing or disabled channel fails the stage with the reason and queues nothing", async () => {
      const { runId, stageId } = await serverRun({ ...NOTIFY, channels: ["ops", "gone", "off"] });
      assert.equal(await runner().pass(), 1);
      assert.deepEqual(await stageOf(stageId), {
        state: "failed",
        reason: "nothing sent: channel 'gone' does not exist; channel 'off' is disabled: too many failures",
        agent_id: "server",
        outputs: null,
      });
      assert.deepEqual(await deliveriesOf(runId), []);
    });

    it("notify: a run canceled before its stage started cancels it unsent; a cancel after it ended changes nothing", async () => {
      const queued = await serverRun(NOTIFY);
      const r = runner();
      const early = await cancelRun(database.db, queued.runId, new Date(), SERVER_ACTOR, (tx, attemptId, now) =>
        r.cancelInTx(tx, attemptId, now),
      );
      assert.equal(early.serverEvents.length, 0);
      assert.equal((await stageOf(queued.stageId)).state, "canceled");
      assert.equal(await r.pass(), 0, "nothing left to start");
      assert.deepEqual(await deliveriesOf(queued.runId), []);
      const done = await serverRun(NOTIFY);
      assert.equal(await r.pass(), 1);
      await assert.rejects(
        cancelRun(database.db, done.runId, new Date(), SERVER_ACTOR, (tx, attemptId, now) =>
          r.cancelInTx(tx, attemptId, now),
        ),
        /already finished: succeeded/,
      );
      assert.equal((await stageOf(done.stageId)).state, "succeeded");
      assert.equal((await deliveriesOf(done.runId)).length, 2);
    });

    it("notify: a stage queued while no runner ran is sent by a new runner's start (restart)", async () => {
      const first = runner();
      first.stop();
      const { runId, stageId } = await serverRun(NOTIFY);
      assert.equal((await stageOf(stageId)).state, "queued", "no runner: nothing sent");
      runner().start(10_000);
      await waitFor(async () => (await stageOf(stageId)).state === "succeeded", {
        message: "the new runner sent it",
        timeoutMs: 3000,
      });
      assert.equal((await deliveriesOf(runId)).length, 2);
    });
  });

  it("a stage timeout: on a server kind ends it as a timeout at its stored time, armed by the runner's own wake-up", async () => {
    const { stageId } = await serverRun({ type: "hold" }, 700);
    const r = runner();
    const t0 = Date.now();
    r.start(60_000); // the beat is a minute: only the wake-up timer can fire it in time
    await waitFor(async () => (await stageOf(stageId)).state === "failed", {
      message: "stage timeout",
      timeoutMs: 3000,
    });
    const late = Date.now() - t0 - 700;
    assert.ok(late < 1000, `fired ${late} ms after its deadline`);
    const attempt = (await client.query(`SELECT state, reason FROM attempts WHERE stage_id = $1`, [stageId])).rows[0];
    assert.deepEqual(attempt, { state: "timeout", reason: "stage exceeded its timeout" });
  });

  it("a kind that throws on its timer ends its stage as errored, and the timer is gone (not fired again and again)", async () => {
    const fails: ServerStageKind = {
      type: "fails",
      runsOn: "server",
      retry: { count: 0, on: [] },
      start: async (_stage, ctx) => ctx.setTimer(new Date(ctx.now().getTime() - 1), "tick"),
      onTimer: async () => Promise.reject(new Error("webhook down")),
    };
    const r = runner({ fails });
    const { stageId } = await serverRun({ type: "fails" });
    assert.equal(await r.pass(), 1);
    await waitFor(async () => (await stageOf(stageId)).state === "errored", {
      message: "errored on its timer",
      timeoutMs: 3000,
    });
    assert.equal((await stageOf(stageId)).reason, "fails failed on its tick timer: webhook down");
    assert.equal(await timersOf(stageId), 0);
  });

  it("a kind that throws ends its stage as errored with the message; an unknown kind too", async () => {
    const boom: ServerStageKind = {
      type: "boom",
      runsOn: "server",
      retry: { count: 0, on: [] },
      start: async () => Promise.reject(new Error("gateway refused")),
      onTimer: async () => undefined,
    };
    const r = runner({ boom });
    const thrown = await serverRun({ type: "boom" });
    const unknown = await serverRun({ type: "nosuch" });
    assert.equal(await r.pass(), 2);
    assert.equal((await stageOf(thrown.stageId)).state, "errored");
    assert.equal((await stageOf(unknown.stageId)).state, "errored");
    assert.equal((await stageOf(thrown.stageId)).reason, "boom failed to start: gateway refused");
    assert.equal((await stageOf(unknown.stageId)).reason, "no server stage kind 'nosuch'");
  });
});
