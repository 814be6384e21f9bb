// The place of server-run stage kinds (approvals and notifications are next): the
// runner claims a queued server stage once, even with two runners racing, runs it
// through its kind, and its end moves the run like an agent's; the agent claim never
// takes it; a kind that throws ends the stage as errored with its message.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import pg from "pg";
import pino from "pino";
import { claimAndPlace, openDatabase, ServerStageRunner, systemClock, type Database, type ServerStageKind } from "@dockyard/control-plane";
import { createTestDatabase, waitFor, type TestDatabase } from "../index";
import { tempDir } from "@dockyard/testkit";

describe("server-run stage kinds", () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  let dataDir: string;

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
    await client?.end();
    await database?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A run with one queued server stage of `type`. */
  async function serverRun(type: string): Promise<{ runId: string; stageId: string }> {
    const runId = randomUUID();
    const stageId = randomUUID();
    await client.query(`INSERT INTO runs (id, name, state, pipeline_yaml, created_at) VALUES ($1, 'gate', 'queued', '', now())`, [runId]);
    await client.query(
      `INSERT INTO stages (id, run_id, name, position, state, type, runs_on, spec, retry_count, retry_on, queued_at)
      VALUES ($1, $2, 'gate', 0, 'queued', $3, 'server', '{"kind":{"type":"${type}"}}', 0, '[]', now())`,
      [stageId, runId, type],
    );
    return { runId, stageId };
  }
  const stageOf = async (stageId: string) => (await client.query(`SELECT state, reason, agent_id, outputs FROM stages WHERE id = $1`, [stageId])).rows[0];

  it("starts a queued server stage once, its end moves the run, and the agent claim never takes it", async () => {
    const starts: string[] = [];
    const probe: ServerStageKind = {
      type: "probe",
      runsOn: "server",
      retry: { count: 0, on: [] },
      start: async (stage, ctx) => {
        starts.push(stage.stageId);
        await ctx.finish("succeeded", "", { values: { decided: "yes" } });
      },
    };
    const { runId, stageId } = await serverRun("probe");
    // The agent claim sees an online agent with free slots and still leaves the stage alone.
    const placed = await claimAndPlace(database.db, 10, new Date(), 60_000);
    assert.equal(placed.placements.length, 0);
    const ended: unknown[] = [];
    const runners = [0, 1].map(() => new ServerStageRunner(database.db, { probe }, systemClock, (e) => ended.push(...e), pino({ level: "silent" })));
    const counts = await Promise.all(runners.map((r) => r.pass()));
    assert.equal(counts[0]! + counts[1]!, 1, "claimed by exactly one runner");
    await waitFor(async () => (await stageOf(stageId)).state === "succeeded", { message: "server stage succeeded" });
    assert.deepEqual(starts, [stageId]);
    const stage = await stageOf(stageId);
    assert.equal(stage.agent_id, "server");
    assert.deepEqual(stage.outputs, { values: { decided: "yes" } });
    const run = (await client.query(`SELECT state FROM runs WHERE id = $1`, [runId])).rows[0];
    assert.equal(run.state, "succeeded");
    assert.equal(ended.length, 1);
  });

  it("a kind that throws ends its stage as errored with the message; an unknown kind too", async () => {
    const boom: ServerStageKind = {
      type: "boom",
      runsOn: "server",
      retry: { count: 0, on: [] },
      start: async () => Promise.reject(new Error("gateway refused")),
    };
    const runner = new ServerStageRunner(database.db, { boom }, systemClock, () => undefined, pino({ level: "silent" }));
    const thrown = await serverRun("boom");
    const unknown = await serverRun("nosuch");
    assert.equal(await runner.pass(), 2);
    await waitFor(async () => (await stageOf(thrown.stageId)).state === "errored" && (await stageOf(unknown.stageId)).state === "errored", {
      message: "both errored",
    });
    // The stage carries its attempt's real reason, not just "errored".
    assert.equal((await stageOf(thrown.stageId)).reason, "boom failed: gateway refused");
    const attempts = (
      await client.query(`SELECT s.name, t.reason FROM attempts t JOIN stages s ON s.id = t.stage_id WHERE t.stage_id = ANY($1) ORDER BY t.reason`, [
        [thrown.stageId, unknown.stageId],
      ])
    ).rows;
    assert.deepEqual(
      attempts.map((a: { reason: string }) => a.reason),
      ["boom failed: gateway refused", "no server stage kind 'nosuch'"],
    );
  });
});
