// Scraping /metrics stays cheap: the farm series (queue depth, stages and agents by state,
// approvals waiting, the outbox, service revisions, the Postgres-kept counters) come from ONE
// query, reused for a second and shared by concurrent scrapes, so N scrapes a second cost one
// query, against a real Postgres.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { Registry } from "prom-client";
import { createMetrics, openDatabase, type Database, type MetricsOptions } from "@dockyard/control-plane";
import { createTestDatabase, type TestDatabase } from "../index";

type Execute = Database["db"]["execute"];

/** The farm gauges' values in a scrape: `name` or `name{state}` → value. */
function farmGauges(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(
    /^(dockyard_queue_depth|dockyard_stages|dockyard_agents)(?:\{state="([a-z_]+)"\})? (\d+)$/gm,
  )) {
    out[m[2] ? `${m[1]}{${m[2]}}` : m[1]!] = Number(m[3]);
  }
  return out;
}

describe("farm gauges at scrape time", () => {
  let testDb: TestDatabase;
  let database: Database;
  let client: pg.Client;
  const runId = randomUUID();
  const spec = { image: null, commands: ["true"], env: {}, executor: "shell", agent: {}, resources: {} };

  const addStage = (state: string) =>
    client.query(
      `INSERT INTO stages (id, run_id, name, position, state, type, spec, retry_count, retry_on, queued_at)
     VALUES ($1, $2, $1, 0, $3, 'command', $4, 0, '[]', now())`,
      [randomUUID(), runId, state, JSON.stringify(spec)],
    );
  const addAgent = (state: string) =>
    client.query(
      `INSERT INTO agents (id, name, labels, capacity, state, join_token_id, capabilities, registered_at, last_heartbeat_at)
     VALUES ($1, $1, '{}', 2, $2, 'j', '["shell"]', now(), now())`,
      [randomUUID(), state],
    );

  /** A registry whose farm gauges read through an `execute` that counts (and can fail) its calls. */
  function metered(options: MetricsOptions = {}) {
    const meter = { queries: 0, failNext: false };
    const execute = ((query: Parameters<Execute>[0]) => {
      meter.queries++;
      if (meter.failNext) {
        meter.failNext = false;
        return Promise.reject(new Error("database unavailable"));
      }
      return database.db.execute(query);
    }) as Execute;
    const registry = new Registry();
    createMetrics(registry, { execute }, options);
    return { registry, meter };
  }

  before(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase({ databaseUrl: testDb.url, dataDir: "", poolSize: 4 });
    client = new pg.Client({ connectionString: testDb.url });
    await client.connect();
    await client.query(
      `INSERT INTO runs (id, name, state, pipeline_yaml, created_at) VALUES ($1, 'gauges', 'running', '', now())`,
      [runId],
    );
    for (const s of ["queued", "queued", "queued", "running", "succeeded", "succeeded"]) await addStage(s);
    for (const s of ["online", "online", "lost"]) await addAgent(s);
  });
  after(async () => {
    await client?.end();
    await database?.close();
    await testDb?.drop();
  });

  it("reports the right values, all three gauges from one query", async () => {
    const { registry, meter } = metered();
    assert.deepEqual(farmGauges(await registry.metrics()), {
      dockyard_queue_depth: 3,
      "dockyard_stages{queued}": 3,
      "dockyard_stages{running}": 1,
      "dockyard_stages{succeeded}": 2,
      "dockyard_agents{online}": 2,
      "dockyard_agents{lost}": 1,
    });
    assert.equal(meter.queries, 1);
  });

  it("approvals, the outbox, service revisions and the Postgres-kept counters come from the same query", async () => {
    const fresh = await createTestDatabase();
    const db = await openDatabase({ databaseUrl: fresh.url, dataDir: "", poolSize: 2 });
    const c = new pg.Client({ connectionString: fresh.url });
    try {
      await c.connect();
      const run = randomUUID();
      await c.query(
        `INSERT INTO runs (id, name, state, pipeline_yaml, created_at) VALUES ($1, 'n', 'running', '', now())`,
        [run],
      );
      const stage = (state: string, type: string) =>
        c.query(
          `INSERT INTO stages (id, run_id, name, position, state, type, spec, retry_count, retry_on, queued_at)
           VALUES ($1, $2, $1, 0, $3, $4, '{}', 0, '[]', now())`,
          [randomUUID(), run, state, type],
        );
      // Waiting means running: a queued approval has not asked anyone yet, a finished one is decided.
      for (const [state, type] of [
        ["running", "approval"],
        ["queued", "approval"],
        ["succeeded", "approval"],
        ["running", "command"],
      ])
        await stage(state!, type!);
      const delivery = (state: string) =>
        c.query(
          `INSERT INTO deliveries (id, channel, event, subject, body, payload, created_at, next_attempt_at, state)
           VALUES ($1, 'ch', 'test', 's', 'b', '{}', now(), now(), $2)`,
          [randomUUID(), state],
        );
      for (const state of ["pending", "pending", "delivered", "failed"]) await delivery(state);
      await c.query(`INSERT INTO services (name, proxy_port, current_revision, policy, created_at, updated_at)
        VALUES ('web', 8080, 3, '{}', now(), now()), ('new', 8081, NULL, '{}', now(), now())`);
      await c.query(`INSERT INTO farm_counters (name, labels, value) VALUES
        ('dockyard_notify_failed_deliveries_total', '{}', 7),
        ('dockyard_service_rollbacks_total', '{"reason":"alert","service":"web"}', 2)`);
      let queries = 0;
      const execute = ((q: Parameters<Execute>[0]) => (queries++, db.db.execute(q))) as Execute;
      const registry = new Registry();
      createMetrics(registry, { execute });
      const text = await registry.metrics();
      assert.equal(queries, 1);
      for (const line of [
        "dockyard_approvals_waiting 1",
        "dockyard_outbox_depth 2",
        'dockyard_service_revision{service="web"} 3',
        "dockyard_notify_failed_deliveries_total 7",
        'dockyard_service_rollbacks_total{service="web",reason="alert"} 2',
      ])
        assert.ok(text.split("\n").includes(line), `${line} in\n${text}`);
      assert.doesNotMatch(text, /service="new"/, "a service with no revision yet has no revision series");
    } finally {
      await c.end();
      await db.close();
      await fresh.drop();
    }
  });

  it("20 scrapes within a second issue one or two queries", async () => {
    const { registry, meter } = metered();
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      assert.equal(farmGauges(await registry.metrics())["dockyard_queue_depth"], 3);
      await new Promise((r) => setTimeout(r, 45)); // a scrape rate of ~20/s, not a wait for a condition
    }
    const elapsed = Date.now() - started;
    assert.ok(meter.queries >= 1 && meter.queries <= 2, `${meter.queries} queries for 20 scrapes in ${elapsed} ms`);
  });

  it("concurrent scrapes share the query in flight", async () => {
    const { registry, meter } = metered();
    const texts = await Promise.all(Array.from({ length: 20 }, () => registry.metrics()));
    assert.equal(meter.queries, 1);
    for (const t of texts) assert.equal(farmGauges(t)["dockyard_stages{running}"], 1);
  });

  it("reads again once the second is up, and sees changes then", async () => {
    let now = 1_000_000;
    const { registry, meter } = metered({ now: () => now });
    await registry.metrics();
    await addStage("queued");
    await addAgent("draining");
    now += 999;
    assert.equal(farmGauges(await registry.metrics())["dockyard_queue_depth"], 3, "cached within the second");
    assert.equal(meter.queries, 1);
    now += 1;
    const fresh = farmGauges(await registry.metrics());
    assert.equal(meter.queries, 2);
    assert.equal(fresh["dockyard_queue_depth"], 4);
    assert.equal(fresh["dockyard_stages{queued}"], 4);
    assert.equal(fresh["dockyard_agents{draining}"], 1);
  });

  it("a failed read fails that scrape only; the next scrape queries again", async () => {
    const { registry, meter } = metered();
    meter.failNext = true;
    await assert.rejects(registry.metrics(), /database unavailable/);
    assert.equal(farmGauges(await registry.metrics())["dockyard_agents{online}"], 2);
    assert.equal(meter.queries, 2);
  });
});
