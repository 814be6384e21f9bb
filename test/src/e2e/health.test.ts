// /healthz is liveness only; /readyz answers 200 only when Postgres and NATS
// answer (each probed with a 1 s timeout) and 503 naming the failing check
// otherwise, never a hang; while Postgres is down the API answers 503
// `unavailable` within a second (gRPC: UNAVAILABLE), not 500.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { OutageFarm, waitFor } from "../index";

describe("health and readiness through outages", { timeout: 120_000 }, () => {
  const farm = new OutageFarm();
  let http = "";
  before(async () => {
    await farm.start();
    http = `http://${farm.servers[0]!.http}`;
  });
  after(async () => farm.stop());

  const get = async (path: string, auth = false) => {
    const t0 = Date.now();
    const res = await fetch(`${http}${path}`, { headers: auth ? { authorization: `Bearer ${farm.apiToken}` } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, any>, ms: Date.now() - t0 };
  };

  it("is ready with both dependencies up", async () => {
    const r = await get("/readyz");
    assert.deepEqual([r.status, r.body], [200, { ok: true, checks: { postgres: "ok", nats: "ok" } }]);
    assert.deepEqual((await get("/healthz")).body, { ok: true });
  });

  it("answers 503 naming Postgres while the database is down, fast, and recovers", async () => {
    await farm.databaseOff();
    try {
      const ready = await get("/readyz");
      assert.equal(ready.status, 503);
      assert.equal(ready.body.checks.nats, "ok");
      assert.notEqual(ready.body.checks.postgres, "ok");
      assert.ok(ready.ms < 1500, `readyz took ${ready.ms} ms`);
      const api = await get("/api/v1/agents", true);
      // The API token was checked before the outage: the cached check lets the request reach the database.
      assert.equal(api.status, 503, JSON.stringify(api.body));
      assert.equal(api.body.error.code, "unavailable");
      assert.ok(api.ms < 1500, `the API took ${api.ms} ms`);
      await assert.rejects(
        farm.client.listAgents({}, { timeoutMs: 5000 }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE,
      );
      assert.equal((await get("/healthz")).status, 200, "liveness is not readiness");
    } finally {
      await farm.databaseOn();
    }
    await waitFor(async () => (await get("/readyz")).status === 200, { message: "ready again" });
    assert.equal((await get("/api/v1/agents", true)).status, 200);
  });

  it("answers 503 naming NATS while NATS is down, and recovers", async () => {
    await farm.killNats();
    try {
      const ready = await waitFor(
        async () => {
          const r = await get("/readyz");
          return r.status === 503 ? r : undefined;
        },
        { message: "readyz to report NATS down" },
      );
      assert.equal(ready.body.checks.postgres, "ok");
      assert.notEqual(ready.body.checks.nats, "ok");
      assert.ok(ready.ms < 1500, `readyz took ${ready.ms} ms`);
    } finally {
      await farm.startNats();
    }
    await waitFor(async () => (await get("/readyz")).status === 200, { message: "ready again", timeoutMs: 20_000 });
  });
});
