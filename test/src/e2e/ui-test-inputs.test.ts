// What the server reads for a ui-test's assignment, on a real Postgres: the journey's history
// on its env from earlier ui-test stages' outputs (the newest two, the newest one's totals),
// and a service's target: a host proxy of the assigned agent when it has one, else another
// host's; a service that does not exist or has no proxy is refused with a message.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { journeyHistory, openDatabase, serviceTarget, type Database } from "@dockyard/control-plane";
import { tempDir } from "@dockyard/testkit";
import { createTestDatabase, type TestDatabase } from "../index";

describe("ui-test assignment inputs", () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  const runId = randomUUID();
  let position = 0;

  before(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDb.url, dataDir: tempDir("ui-test-inputs") });
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    await client.query(
      `INSERT INTO runs (id, name, state, pipeline_yaml, created_at) VALUES ($1, 'j', 'running', '', now())`,
      [runId],
    );
  });
  after(async () => {
    await client?.end();
    await database?.close();
    await testDb?.drop();
  });

  const uiStage = async (state: string, finished: string, values: Record<string, string> | null) => {
    const p = position++;
    await client.query(
      `INSERT INTO stages (id, run_id, name, position, state, type, spec, retry_count, retry_on, finished_at, outputs)
      VALUES ($1, $2, $3, $4, $5, 'ui-test', '{}', 0, '[]', $6, $7)`,
      [randomUUID(), runId, `s${p}`, p, state, finished, values ? JSON.stringify({ values }) : null],
    );
  };
  const out = (
    journey: string,
    env: string,
    success: boolean,
    passed: number,
    failed: number,
    lastSuccess: number,
  ) => ({
    journey,
    env,
    success: String(success),
    checks_passed: String(passed),
    checks_failed: String(failed),
    last_success_at: String(lastSuccess),
  });

  it("history: none at first; then the newest two results and the newest one's totals and last success", async () => {
    assert.deepEqual(await journeyHistory(database.db, "shop", "staging"), {
      recent: [],
      checksPassed: 0,
      checksFailed: 0,
      lastSuccessMs: 0,
    });
    await uiStage("failed", "2026-01-01T00:00:01Z", out("shop", "staging", false, 0, 1, 0));
    await uiStage("succeeded", "2026-01-01T00:00:02Z", out("shop", "staging", true, 1, 1, 1_767_225_602_000));
    await uiStage("failed", "2026-01-01T00:00:03Z", out("shop", "staging", false, 1, 2, 1_767_225_602_000));
    // Not this journey's history: another env, another journey, an errored stage without outputs.
    await uiStage("succeeded", "2026-01-01T00:00:04Z", out("shop", "prod", true, 9, 0, 1));
    await uiStage("succeeded", "2026-01-01T00:00:04Z", out("cart", "staging", true, 9, 0, 1));
    await uiStage("errored", "2026-01-01T00:00:05Z", null);
    assert.deepEqual(await journeyHistory(database.db, "shop", "staging"), {
      recent: [false, true],
      checksPassed: 1,
      checksFailed: 2,
      lastSuccessMs: 1_767_225_602_000,
    });
    assert.deepEqual((await journeyHistory(database.db, "shop", "prod")).recent, [true], "the other env has its own");
  });

  it("service target: the assigned agent's own proxy first, else another host's, with the current revision", async () => {
    await client.query(
      `INSERT INTO services (name, proxy_port, current_revision, policy, created_at, updated_at)
      VALUES ('webapp', 28080, 3, '{}', now(), now()), ('idle', 28081, 1, '{}', now(), now())`,
    );
    const placement = JSON.stringify([
      { agentId: "a1", agentName: "host-1", replicas: 1 },
      { agentId: "a2", agentName: "host-2", replicas: 1 },
    ]);
    await client.query(
      `INSERT INTO service_revisions (service, revision, spec, placement, digest, created_at)
      VALUES ('webapp', 3, '{}', $1, 'd3', now()), ('idle', 1, '{}', $1, 'd1', now())`,
      [placement],
    );
    for (const [agent, address] of [
      ["a1", "10.0.0.1:28080"],
      ["a2", "10.0.0.2:28080"],
    ])
      await client.query(
        `INSERT INTO agent_resources (agent_id, kind, id, attributes) VALUES ($1, 'service-proxy', 'webapp', $2)`,
        [agent, JSON.stringify({ address, port: "28080" })],
      );
    assert.deepEqual(await serviceTarget(database.db, "webapp", "a2"), {
      baseUrl: "http://10.0.0.2:28080",
      service: "webapp",
      revision: 3,
    });
    assert.equal((await serviceTarget(database.db, "webapp", "a1")).baseUrl, "http://10.0.0.1:28080");
    assert.equal((await serviceTarget(database.db, "webapp", "elsewhere")).baseUrl, "http://10.0.0.1:28080");
    await assert.rejects(serviceTarget(database.db, "idle", "a1"), /service 'idle' has no host proxy running yet/);
    await assert.rejects(
      serviceTarget(database.db, "nope", "a1"),
      /ui-test: service 'nope' does not exist; services: /,
    );
  });
});
