// Placement never overbooks an agent: the claim counts free slots before it holds the
// agent's lock, so the placement counts again under it and places nothing on an agent
// that has no room left for its share (another replica placed there in between).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { claimAndPlace, openDatabase, placeAttempts, type Database, type Placement } from "@dockyard/control-plane";
import { createTestDatabase, type TestDatabase } from "../index";
import { tempDir } from "@dockyard/testkit";

describe("claim and placement", () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  let dataDir: string;
  const agentId = randomUUID();
  const runId = randomUUID();
  const stageIds = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const now = new Date();
  const spec = {
    type: "command",
    kind: {
      type: "command",
      image: null,
      commands: ["true"],
      executor: "shell",
      resources: { memoryBytes: null, nanoCpus: null, pids: null },
    },
    env: {},
    secrets: [],
    agent: {},
    requires: ["shell"],
    refs: [],
    source: { kind: "upload" },
    registry: null,
    notify: [],
    sameAgentAs: null,
    run: { name: "guard", number: 1 },
  };

  before(async () => {
    testDb = await createTestDatabase();
    dataDir = tempDir("guard");
    database = await openDatabase({ databaseUrl: testDb.url, dataDir });
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    // An online agent with 2 slots, one taken by stage 0's attempt; stages 1-3 queued.
    await client.query(
      `INSERT INTO agents (id, name, labels, capacity, state, session_id, join_token_id, capabilities, registered_at, last_heartbeat_at)
      VALUES ($1, 'guarded', '{}', 2, 'online', 'h', 'j', '["shell"]', now(), now())`,
      [agentId],
    );
    await client.query(
      `INSERT INTO runs (id, name, state, pipeline_yaml, created_at) VALUES ($1, 'guard', 'queued', '', now())`,
      [runId],
    );
    for (const [i, id] of stageIds.entries()) {
      await client.query(
        `INSERT INTO stages (id, run_id, name, position, state, type, spec, retry_count, retry_on, queued_at)
        VALUES ($1, $2, $3, $4, $5, 'command', $6, 0, '[]', now())`,
        [id, runId, `s${i}`, i, i === 0 ? "running" : "queued", JSON.stringify(spec)],
      );
    }
    await client.query(
      `INSERT INTO attempts (id, stage_id, run_id, number, agent_id, lease_id, state, lease_expires_at, assigned_at)
      VALUES ($1, $2, $3, 1, $4, $5, 'running', now() + interval '1 minute', now())`,
      [randomUUID(), stageIds[0], runId, agentId, randomUUID()],
    );
  });
  after(async () => {
    await client?.end();
    await database?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const placement = (stage: number): Placement => ({
    attemptId: randomUUID(),
    leaseId: randomUUID(),
    runId,
    stageId: stageIds[stage]!,
    stageName: `s${stage}`,
    attemptNumber: 1,
    agentId,
    spec: spec as Placement["spec"],
    timeoutMs: null,
    queuedAt: now,
    agentName: "guarded",
    assignedAt: now,
    leaseExpiresAt: new Date(now.getTime() + 60_000),
  });
  const states = async () =>
    (await client.query(`SELECT name, state FROM stages WHERE run_id = $1 ORDER BY position`, [runId])).rows.map(
      (r: { name: string; state: string }) => `${r.name}:${r.state}`,
    );

  it("places nothing on an agent whose recount leaves no room for its share", async () => {
    // As if the claim had counted 2 free slots: one is left, so neither stage goes.
    const placed = await database.db.transaction((tx) => placeAttempts(tx, [placement(1), placement(2)], now));
    assert.deepEqual(placed.placements, []);
    assert.deepEqual(placed.events, []);
    assert.deepEqual(await states(), ["s0:running", "s1:queued", "s2:queued", "s3:queued"]);
    assert.equal((await client.query(`SELECT count(*)::int AS n FROM attempts`)).rows[0].n, 1);
    assert.equal((await client.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0].state, "queued");
  });

  it("a claim fills the agent's free slot and no more", async () => {
    const placed = await claimAndPlace(database.db, 32, new Date(), 60_000);
    assert.equal(placed.placements.length, 1);
    assert.deepEqual(await states(), ["s0:running", "s1:assigned", "s2:queued", "s3:queued"]);
    assert.deepEqual(
      placed.events.map((e) => [e.runId, e.payload]),
      [[runId, { state: "running" }]],
    );
    assert.deepEqual((await claimAndPlace(database.db, 32, new Date(), 60_000)).placements, [], "full: nothing more");
  });
});
