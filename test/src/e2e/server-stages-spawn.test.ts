// The server-kind contract, spawn case (see server-stages.test.ts for the rest): a server kind
// spawns agent work as child stages `PARENT/KEY` that the ordinary agent claim places (a pinned
// child only on its agent), spawning a key twice answers the same child, each child's end
// reaches onChildEnded once (two runners racing to deliver), a child's failure does not fail the
// run (the parent decides), a pinned child whose agent is not online ends failed with why (at
// the spawn, or on the runner's beat once its agent went away while it waited), and a cancel,
// a parent's timeout or a parent's own end ends its live children, taking the child's attempt
// before the run (no lock cycle with a child's log write). Agents are rows here (the
// claim is real); tests/e2e/server-children.test.ts runs the same kind on real agents.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import pg from "pg";
import pino from "pino";
import {
  cancelRun,
  claimAndPlace,
  finishAttempt,
  openDatabase,
  SERVER_ACTOR,
  ServerStageRunner,
  systemClock,
  type Database,
  type ServerRunnerHooks,
} from "@dockyard/control-plane";
import { createTestDatabase, fanout, waitFor, type FanoutChild, type TestDatabase } from "../index";
import { tempDir } from "@dockyard/testkit";

describe("server-run stage kinds: the contract, spawn", () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  let dataDir: string;
  const runners: ServerStageRunner[] = [];
  let kicks = 0;
  const hooks: ServerRunnerHooks = { ended: () => undefined, publish: () => undefined, kick: () => void kicks++ };
  const runner = () => {
    const r = new ServerStageRunner(database.db, { fanout }, systemClock, hooks, pino({ level: "silent" }));
    runners.push(r);
    return r;
  };
  const agent = async (name: string, state = "online", caps = ["shell"]) => {
    const id = randomUUID();
    await client.query(
      `INSERT INTO agents (id, name, labels, capacity, state, session_id, join_token_id, capabilities, registered_at, last_heartbeat_at)
      VALUES ($1, $2, '{}', 4, $3, 'h', 'j', $4, now(), now())`,
      [id, name, state, JSON.stringify(caps)],
    );
    return id;
  };
  let a: string;
  let b: string;

  before(async () => {
    testDb = await createTestDatabase();
    dataDir = tempDir("server-spawn");
    database = await openDatabase({ databaseUrl: testDb.url, dataDir });
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    a = await agent("a");
    b = await agent("b");
  });
  after(async () => {
    for (const r of runners) r.stop();
    await client?.end();
    await database?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function fanoutRun(children: FanoutChild[], timeoutMs: number | null = null) {
    const runId = randomUUID();
    const stageId = randomUUID();
    await client.query(
      `INSERT INTO runs (id, name, state, pipeline_yaml, created_at, number) VALUES ($1, 'fan', 'queued', '', now(), 1)`,
      [runId],
    );
    await client.query(
      `INSERT INTO stages (id, run_id, name, position, state, type, runs_on, spec, retry_count, retry_on, queued_at, timeout_ms)
      VALUES ($1, $2, 'gate', 0, 'queued', 'fanout', 'server', $3, 0, '[]', now(), $4)`,
      [
        stageId,
        runId,
        JSON.stringify({ kind: { type: "fanout", children }, refs: [], source: { kind: "upload" }, registry: null }),
        timeoutMs,
      ],
    );
    return { runId, stageId };
  }
  const stage = async (id: string) =>
    (await client.query(`SELECT name, state, reason, outputs, parent_stage_id FROM stages WHERE id = $1`, [id]))
      .rows[0];
  const children = async (runId: string) =>
    (
      await client.query(
        `SELECT s.id, s.name, s.state, s.reason, s.agent_id, (SELECT a.id FROM attempts a WHERE a.stage_id = s.id ORDER BY number DESC LIMIT 1) AS attempt_id,
          (SELECT a.lease_id FROM attempts a WHERE a.stage_id = s.id ORDER BY number DESC LIMIT 1) AS lease_id
        FROM stages s WHERE s.run_id = $1 AND s.parent_stage_id IS NOT NULL ORDER BY s.name`,
        [runId],
      )
    ).rows;
  const runState = async (runId: string) =>
    (await client.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state as string;
  const stateOf = async (stageId: string) =>
    (await client.query(`SELECT a.server_state FROM attempts a WHERE a.stage_id = $1`, [stageId])).rows[0]
      .server_state as Record<string, unknown>;

  it("spawns children the ordinary claim places (the pinned one on its agent), tells each end once, and the parent decides", async () => {
    const { runId, stageId } = await fanoutRun([
      { key: "one", commands: ["echo one"] },
      { key: "two", commands: ["exit 3"], agentId: b },
    ]);
    kicks = 0;
    assert.equal(await runner().pass(), 1);
    assert.equal(kicks, 1, "the scheduler was kicked for the new children");
    const kids = await children(runId);
    assert.deepEqual(
      kids.map((k) => [k.name, k.state]),
      [
        ["gate/one", "queued"],
        ["gate/two", "queued"],
      ],
    );
    assert.equal((await stateOf(stageId)).respawnCreated, false, "spawning a key again answered the same child");
    assert.equal((await stage(kids[0].id)).parent_stage_id, stageId);
    // The pinned child goes to b even with a (more free slots... equal here) preferred by nothing else.
    const placed = await claimAndPlace(database.db, 10, new Date(), 60_000);
    const where = Object.fromEntries(placed.placements.map((p) => [p.stageName, p.agentId]));
    assert.equal(where["gate/two"], b, "the pinned child is on its agent");
    assert.ok(where["gate/one"] === a || where["gate/one"] === b);
    assert.equal(await runState(runId), "running");
    const [one, two] = await children(runId);
    await finishAttempt(database.db, one.attempt_id, one.lease_id, "succeeded", 0, "", new Date(), {
      values: { v: "1" },
    });
    await finishAttempt(database.db, two.attempt_id, two.lease_id, "failed", 3, "exit code 3", new Date());
    assert.equal(await runState(runId), "running", "a failed child does not end the run: its parent is running");
    // Two runners race to deliver: each end is told once.
    const counts = await Promise.all([runner().deliverChildEnds(), runner().deliverChildEnds()]);
    assert.equal(counts[0]! + counts[1]!, 2);
    const parent = await stage(stageId);
    assert.equal(parent.state, "succeeded");
    assert.equal(parent.reason, "one=succeeded two=failed(exit code 3)");
    assert.equal(parent.outputs.values["one.v"], "1");
    assert.equal(parent.outputs.values["two.agent"], b);
    const told = await client.query(
      `SELECT payload->>'key' AS key FROM run_events WHERE run_id = $1 AND kind = 'fanout' ORDER BY seq`,
      [runId],
    );
    assert.deepEqual(
      told.rows.map((r) => r.key),
      ["one", "two"],
      "onChildEnded once per child",
    );
    assert.equal(await runState(runId), "succeeded", "the parent decided: the run succeeded although a child failed");
    assert.equal(await runner().deliverChildEnds(), 0);
  });

  it("a pinned child whose agent is not online ends failed with why, at the spawn or once its agent goes while it waits", async () => {
    const lost = await agent("gone", "lost");
    const busy = await agent("busy", "online", ["docker"]);
    const later = await agent("later");
    await client.query(`UPDATE agents SET capacity = 0 WHERE id = $1`, [later]);
    const { runId, stageId } = await fanoutRun([
      { key: "lost", commands: ["true"], agentId: lost },
      { key: "nocap", commands: ["true"], agentId: busy },
      { key: "nosuch", commands: ["true"], agentId: "no-such-agent" },
      { key: "later", commands: ["true"], agentId: later },
    ]);
    const r = runner();
    assert.equal(await r.pass(), 1);
    const kids = await children(runId);
    assert.deepEqual(
      kids.map((k) => [k.name, k.state, k.reason]),
      [
        ["gate/later", "queued", null],
        ["gate/lost", "failed", "pinned agent 'gone' is lost"],
        ["gate/nocap", "failed", "pinned agent 'busy' lacks capability 'shell'"],
        ["gate/nosuch", "failed", "pinned agent no-such-agent does not exist"],
      ],
    );
    assert.equal(
      (await claimAndPlace(database.db, 10, new Date(), 60_000)).placements.length,
      0,
      "its agent has no slot: it waits",
    );
    await client.query(`UPDATE agents SET state = 'lost' WHERE id = $1`, [later]);
    r.start(60_000);
    await waitFor(async () => (await stage(stageId)).state === "succeeded", {
      message: "the parent told of all four",
      timeoutMs: 3000,
    });
    assert.equal((await children(runId))[0].reason, "pinned agent 'later' is lost");
    assert.match((await stage(stageId)).reason, /^later=failed\(pinned agent 'later' is lost\) lost=failed/);
  });

  it("a run cancel cancels the live children (their agents told) and calls the parent's cancel", async () => {
    const { runId, stageId } = await fanoutRun([
      { key: "x", commands: ["sleep 60"] },
      { key: "y", commands: ["sleep 60"], agentId: b },
    ]);
    const r = runner();
    assert.equal(await r.pass(), 1);
    assert.equal((await claimAndPlace(database.db, 10, new Date(), 60_000)).placements.length, 2);
    const { ended } = await cancelRun(database.db, runId, new Date(), SERVER_ACTOR, (tx, id, now) =>
      r.cancelInTx(tx, id, now),
    );
    assert.equal(ended.length, 3, "the parent and both child attempts");
    assert.deepEqual(
      (await children(runId)).map((k) => k.state),
      ["canceled", "canceled"],
    );
    assert.equal((await stage(stageId)).state, "canceled");
    assert.equal(await runState(runId), "canceled");
    await r.deliverChildEnds();
    assert.equal(
      (
        await client.query(
          `SELECT count(*)::int AS n FROM run_events WHERE run_id = $1 AND kind = 'fanout' AND payload->>'action' = 'child-ended'`,
          [runId],
        )
      ).rows[0].n,
      0,
      "a canceled parent is told nothing",
    );
  });

  it("a parent's timeout ends its live children (queued and running) before it ends", async () => {
    const { runId, stageId } = await fanoutRun(
      [
        { key: "run", commands: ["sleep 60"], agentId: a },
        { key: "wait", commands: ["sleep 60"], agentId: "no-slot" },
      ],
      500,
    );
    await client.query(`INSERT INTO agents (id, name, labels, capacity, state, session_id, join_token_id, capabilities, registered_at, last_heartbeat_at)
      VALUES ('no-slot', 'no-slot', '{}', 0, 'online', 'h', 'j', '["shell"]', now(), now())`);
    const ended: string[] = [];
    const r = new ServerStageRunner(
      database.db,
      { fanout },
      systemClock,
      { ...hooks, ended: (e) => ended.push(...e.map((x) => x.attempt.state)) },
      pino({ level: "silent" }),
    );
    runners.push(r);
    assert.equal(await r.pass(), 1);
    assert.equal((await claimAndPlace(database.db, 10, new Date(), 60_000)).placements.length, 1);
    r.start(60_000);
    await waitFor(async () => (await stage(stageId)).state === "failed", {
      message: "the parent timed out",
      timeoutMs: 3000,
    });
    assert.deepEqual(
      (await children(runId)).map((k) => [k.name, k.state, k.reason]),
      [
        ["gate/run", "canceled", "its parent stage 'gate' exceeded its timeout"],
        ["gate/wait", "canceled", "its parent stage 'gate' exceeded its timeout"],
      ],
    );
    assert.ok(ended.includes("canceled"), "the running child's attempt was published as ended (its agent is told)");
    assert.equal(await runState(runId), "failed");
  });
  it("a parent ending while a child writes (its attempt held, then the run wanted) takes its locks in order: no deadlock", async () => {
    const { runId, stageId } = await fanoutRun([{ key: "busy", commands: ["sleep 60"], agentId: a }], 600);
    const r = runner();
    let waited = 0;
    assert.equal(await r.pass(), 1);
    assert.equal((await claimAndPlace(database.db, 10, new Date(), 60_000)).placements.length, 1);
    const [child] = await children(runId);
    // The child's agent writing a log chunk: its attempt first, then the run's event counter.
    const agentTx = new pg.Client({ connectionString: testDb.url });
    await agentTx.connect();
    try {
      await agentTx.query("BEGIN");
      await agentTx.query("UPDATE attempts SET log_seq = log_seq WHERE id = $1", [child.attempt_id]);
      r.start(60_000);
      // The parent's timeout fires (its cancel writes an event, then it ends the child) and waits for the child's
      // attempt.
      await waitFor(
        async () =>
          (
            await client.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            )
          ).rows[0].n > 0,
        { message: "the parent's timeout waiting for the child's attempt", timeoutMs: 5000 },
      );
      // In a lock cycle, this would wait for Postgres's deadlock check (deadlock_timeout, 1 s) to abort one side.
      const t0 = Date.now();
      await agentTx.query("UPDATE runs SET last_event_seq = last_event_seq WHERE id = $1", [runId]);
      waited = Date.now() - t0;
      await agentTx.query("COMMIT");
    } finally {
      await agentTx.end();
    }
    await waitFor(async () => (await stage(stageId)).state === "failed", {
      message: "the parent timed out",
      timeoutMs: 5000,
    });
    assert.equal((await children(runId))[0].state, "canceled");
    assert.ok(
      waited < 500,
      `the child's write waited ${waited} ms for the run: the parent held it while waiting for the child (a lock cycle)`,
    );
  });
});
