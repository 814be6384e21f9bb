// The HTTP edge of /metrics: its own bearer token, kept apart from the API tokens.
// Services are stubs here on purpose: this tests routing and auth in the app only.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "./app";
import type { ErrorBody, WebServices } from "./types";

const API_TOKEN = "dya_api_token_0123456789";
const METRICS_TOKEN = "dym_metrics_token_0123456789";

function stubServices(): WebServices & { scrapes: number } {
  const unauthenticated = () => Object.assign(new Error("unknown or revoked API token"), { code: "unauthenticated" });
  const services = {
    scrapes: 0,
    authenticate: async (token: string) => {
      if (token !== API_TOKEN) throw unauthenticated();
      return { userId: "u1", user: "tester", roles: ["admin"] };
    },
    submitRun: async () => assert.fail("not called"),
    getRun: async () => assert.fail("not called"),
    runEvents: async () => assert.fail("not called"),
    runChanges: async () => assert.fail("not called"),
    listRuns: async () => ({ runs: [], more: false }),
    cancelRun: async () => assert.fail("not called"),
    rerunRun: async () => assert.fail("not called"),
    decideApproval: async () => assert.fail("not called"),
    hookDecision: async () => assert.fail("not called"),
    gitPush: async () => assert.fail("not called"),
    stageLog: async () => assert.fail("not called"),
    listAgents: async () => [],
    removeAgent: async () => assert.fail("not called"),
    drainAgent: async () => assert.fail("not called"),
    revokeAgent: async () => assert.fail("not called"),
    listTokens: async () => [],
    listEnvironments: async () => [],
    listServices: async () => [],
    serviceHistory: async () => [],
    rollbackService: async () => assert.fail("not called"),
    receiveAlerts: async () => assert.fail("not called"),
    listAlerts: async () => [],
    listUsers: async () => [],
    addUser: async () => assert.fail("not called"),
    disableUser: async () => assert.fail("not called"),
    listAudit: async () => [],
    listChannels: async () => [],
    addChannel: async () => assert.fail("not called"),
    removeChannel: async () => assert.fail("not called"),
    testChannel: async () => assert.fail("not called"),
    rotateChannelKey: async () => assert.fail("not called"),
    listNotifications: async () => [],
    listArtifacts: async () => [],
    getArtifact: async () => Promise.reject(new Error("unused")),
    listSchedules: async () => [],
    getSchedule: async () => {
      throw new Error("unused");
    },
    createSchedule: async () => {
      throw new Error("unused");
    },
    deleteSchedule: async () => undefined,
    setScheduleEnabled: async () => {
      throw new Error("unused");
    },
    scheduleTicks: async () => [],
    metrics: async () => {
      services.scrapes++;
      return { contentType: "text/plain; version=0.0.4; charset=utf-8", body: "dockyard_queue_depth 3\n" };
    },
    health: async () => ({ ok: true, checks: {} }),
  };
  return services;
}

/**
 * Every API route needs a token, the rest is open: the server's real table is walked in test/src/e2e/access.test.ts.
 */
const access = { routeAccess: (route: string) => (route.includes(" /api/") ? "viewer" : "public"), allows: () => true };

const get = (app: ReturnType<typeof createApp>, path: string, token?: string) =>
  app.request(path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe("GET /metrics with a metrics token", () => {
  const services = stubServices();
  const app = createApp(services, { access, maxBodyBytes: 1024, metricsToken: METRICS_TOKEN });

  async function assertRefused(res: Response) {
    assert.equal(res.status, 401);
    const body = (await res.json()) as ErrorBody;
    assert.equal(body.error.code, "unauthenticated");
    assert.match(body.error.message, /Authorization: Bearer/);
  }

  it("refuses a scrape without a token, naming the header", async () => {
    await assertRefused(await get(app, "/metrics"));
    await assertRefused(await app.request("/metrics", { headers: { authorization: METRICS_TOKEN } })); // no "Bearer "
  });

  it("refuses a wrong token, of any length", async () => {
    await assertRefused(await get(app, "/metrics", "wrong"));
    await assertRefused(await get(app, "/metrics", `${METRICS_TOKEN}x`));
    await assertRefused(await get(app, "/metrics", METRICS_TOKEN.slice(0, -1)));
  });

  it("refuses the API token", async () => {
    await assertRefused(await get(app, "/metrics", API_TOKEN));
  });

  it("serves the exposition text for the metrics token, and only then calls the service", async () => {
    const before = services.scrapes;
    const res = await get(app, "/metrics", METRICS_TOKEN);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(await res.text(), "dockyard_queue_depth 3\n");
    assert.equal(services.scrapes, before + 1, "refused scrapes never reached the service");
  });

  it("the metrics token does not open /api/v1; the API token still does", async () => {
    const refused = await get(app, "/api/v1/runs", METRICS_TOKEN);
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as ErrorBody).error.code, "unauthenticated");
    assert.equal((await get(app, "/api/v1/runs", API_TOKEN)).status, 200);
  });
});

describe("GET /metrics without a metrics token", () => {
  for (const metricsToken of [undefined, null]) {
    it(`is open (metricsToken: ${metricsToken})`, async () => {
      const app = createApp(stubServices(), { access, maxBodyBytes: 1024, metricsToken });
      assert.equal((await get(app, "/metrics")).status, 200);
      assert.equal((await get(app, "/metrics", "anything")).status, 200);
    });
  }
});

describe("the HTTP API's answers", () => {
  const auth = { authorization: `Bearer ${API_TOKEN}` };
  const calls: unknown[] = [];
  const logged: Error[] = [];
  const services: WebServices = {
    ...stubServices(),
    listRuns: async (opts) => {
      calls.push(opts);
      return { runs: [], more: false };
    },
    submitRun: async (_yaml, source, defaultName) => {
      calls.push({ source, defaultName });
      return {
        id: "r",
        name: defaultName ?? "own",
        state: "queued",
        startedBy: "tester",
        source,
        branch: null,
        commit: null,
        createdAt: new Date(0).toISOString(),
        finishedAt: null,
        durationMs: null,
        stages: [],
      };
    },
    cancelRun: async (id) => {
      throw Object.assign(new Error(`run ${id} already finished: succeeded`), { code: "conflict" });
    },
    getRun: async () => {
      throw new Error("boom: a bug");
    },
  };
  const app = createApp(services, { access, maxBodyBytes: 1024, onError: (err) => logged.push(err) });

  it("refuses a limit that is not a whole number from 1 to 500, naming the parameter", async () => {
    for (const limit of ["abc", "0", "501", "1.5", "-1", "1e2"]) {
      const res = await app.request(`/api/v1/runs?limit=${limit}`, { headers: auth });
      assert.equal(res.status, 400, limit);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.code, "invalid");
      assert.match(body.error.message, /^invalid limit '.*': expected a whole number from 1 to 500$/);
      assert.equal(body.error.field, "limit");
    }
    assert.equal(calls.length, 0, "the service was not called");
    assert.equal((await app.request("/api/v1/runs?limit=7", { headers: auth })).status, 200);
    assert.deepEqual(calls.pop(), {
      limit: 7,
      state: undefined,
      pipeline: undefined,
      branch: undefined,
      since: undefined,
      until: undefined,
      after: undefined,
    });
  });

  it("refuses an unknown state, listing the states", async () => {
    const res = await app.request("/api/v1/runs?state=bogus", { headers: auth });
    assert.equal(res.status, 400);
    assert.equal(
      ((await res.json()) as ErrorBody).error.message,
      "invalid state 'bogus': expected one of queued, running, succeeded, failed, errored, canceled",
    );
    assert.equal((await app.request("/api/v1/runs?state=failed", { headers: auth })).status, 200);
    assert.deepEqual(calls.pop(), {
      limit: 20,
      state: "failed",
      pipeline: undefined,
      branch: undefined,
      since: undefined,
      until: undefined,
      after: undefined,
    });
  });

  it("passes ?name= as the default name of a pipeline without one", async () => {
    const res = await app.request("/api/v1/runs?name=web-app", { method: "POST", headers: auth, body: "stages: {}" });
    assert.equal(res.status, 201);
    assert.deepEqual(calls.pop(), { source: "http:dockyard.yml", defaultName: "web-app" });
    await app.request("/api/v1/runs", { method: "POST", headers: auth, body: "stages: {}" });
    assert.deepEqual(calls.pop(), { source: "http:dockyard.yml", defaultName: undefined });
  });

  it("answers a conflict with 409 and its message", async () => {
    const res = await app.request("/api/v1/runs/r-1/cancel", { method: "POST", headers: auth });
    assert.equal(res.status, 409);
    assert.deepEqual(await res.json(), { error: { code: "conflict", message: "run r-1 already finished: succeeded" } });
  });

  it("hides a 500's cause from the client and hands the error to onError", async () => {
    const res = await app.request("/api/v1/runs/r-1", { headers: auth });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: { code: "internal", message: "internal error; see the server log" } });
    assert.equal(logged.length, 1);
    assert.match(logged[0]!.message, /boom: a bug/);
    assert.ok(logged[0]!.stack?.includes("app.test.ts"), "with its stack");
  });
});
