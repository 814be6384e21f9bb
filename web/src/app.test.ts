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
      return { id: "tok" };
    },
    submitRun: async () => assert.fail("not called"),
    getRun: async () => assert.fail("not called"),
    listRuns: async () => [],
    cancelRun: async () => assert.fail("not called"),
    listAgents: async () => [],
    metrics: async () => {
      services.scrapes++;
      return { contentType: "text/plain; version=0.0.4; charset=utf-8", body: "dockyard_queue_depth 3\n" };
    },
    health: async () => ({ ok: true, checks: {} }),
  };
  return services;
}

const get = (app: ReturnType<typeof createApp>, path: string, token?: string) =>
  app.request(path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

describe("GET /metrics with a metrics token", () => {
  const services = stubServices();
  const app = createApp(services, { maxBodyBytes: 1024, metricsToken: METRICS_TOKEN });

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
      const app = createApp(stubServices(), { maxBodyBytes: 1024, metricsToken });
      assert.equal((await get(app, "/metrics")).status, 200);
      assert.equal((await get(app, "/metrics", "anything")).status, 200);
    });
  }
});
