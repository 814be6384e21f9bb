// The alert routes' input checks, in the app alone (fake services): the receiver's token (503 when
// unset, 401 for a missing or wrong one, before the body is read), its body (JSON, webhook v4, each
// bad field named, at most MAX_ALERTS alerts, 413 over the size bound), and GET /alerts' parameters.
// The same routes against a real server: test/src/e2e/alerts.test.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../app";
import type { ErrorBody, WebServices } from "../types";
import type { AlertmanagerPayload } from "../alert-types";
import { MAX_ALERT_BODY_BYTES, MAX_ALERTS } from "./alert-payload";

const ALERT_TOKEN = "alert-token-0123456789abcdef";
const API_TOKEN = "dya_api_token_0123456789";

function fakeServices() {
  const received: AlertmanagerPayload[] = [];
  const listed: unknown[] = [];
  const notCalled = async (): Promise<never> => assert.fail("not called");
  const services = new Proxy({} as WebServices, {
    get(_t, name) {
      if (name === "authenticate")
        return async (token: string) => {
          if (token !== API_TOKEN) throw Object.assign(new Error("unknown token"), { code: "unauthenticated" });
          return { userId: "u1", user: "viewer", roles: ["viewer"] };
        };
      if (name === "receiveAlerts")
        return async (p: AlertmanagerPayload) => {
          received.push(p);
          return { received: p.alerts.length, stored: p.alerts.length, resolved: 0, repeated: 0 };
        };
      if (name === "listAlerts")
        return async (opts: unknown) => {
          listed.push(opts);
          return [];
        };
      return notCalled;
    },
  });
  return { services, received, listed };
}

const access = {
  routeAccess: (route: string) => (route === "POST /api/v1/alerts/alertmanager" ? "webhook" : "viewer"),
  allows: () => true,
};

function alert(over: Record<string, unknown> = {}) {
  return {
    status: "firing",
    labels: { alertname: "DockyardJourneyFailing", service: "web", journey: "checkout", env: "staging" },
    annotations: { summary: "journey checkout on staging failed in 2 of its last 3 runs" },
    startsAt: "2026-12-07T01:02:03.123456789Z",
    endsAt: "0001-01-01T00:00:00Z",
    generatorURL: "http://prometheus/graph",
    fingerprint: "a1b2c3d4e5f60718",
    ...over,
  };
}
const body = (alerts: unknown[], over: Record<string, unknown> = {}) =>
  JSON.stringify({ version: "4", status: "firing", receiver: "dockyard", groupKey: "{}", alerts, ...over });

function setup(token: string | null = ALERT_TOKEN) {
  const fake = fakeServices();
  const app = createApp(fake.services, { access, maxBodyBytes: 1024, alertToken: token });
  const post = (text: string, auth: string | null = `Bearer ${ALERT_TOKEN}`) =>
    app.request("/api/v1/alerts/alertmanager", {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth === null ? {} : { authorization: auth }) },
      body: text,
    });
  const list = (query: string) =>
    app.request(`/api/v1/alerts${query}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
  return { ...fake, post, list };
}

async function refused(res: Response, status: number, message: RegExp): Promise<ErrorBody> {
  const b = (await res.json()) as ErrorBody;
  assert.equal(res.status, status, JSON.stringify(b));
  assert.match(b.error.message, message);
  return b;
}

describe("POST /api/v1/alerts/alertmanager", () => {
  it("passes a valid webhook v4 body to the services (positive control for every refusal below)", async () => {
    const { post, received } = setup();
    const res = await post(body([alert(), alert({ status: "resolved", fingerprint: "ff", annotations: undefined })]));
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), { receipt: { received: 2, stored: 2, resolved: 0, repeated: 0 } });
    assert.equal(received.length, 1);
    assert.equal(received[0]!.alerts[0]!.labels.service, "web");
    assert.deepEqual(received[0]!.alerts[1]!.annotations, {}, "annotations default to none");
    assert.equal("groupKey" in received[0]!, false, "fields the server does not use are dropped");
  });

  it("answers 503 naming the setting when no token is configured", async () => {
    const { post, received } = setup(null);
    await refused(await post(body([alert()])), 503, /DOCKYARD_ALERT_TOKEN_FILE/);
    assert.equal(received.length, 0);
  });

  it("refuses a missing, malformed or wrong token with 401, API tokens included", async () => {
    const { post, received } = setup();
    await refused(await post(body([alert()]), null), 401, /Authorization: Bearer/);
    await refused(await post(body([alert()]), ALERT_TOKEN), 401, /Authorization: Bearer/);
    await refused(await post(body([alert()]), `Bearer ${ALERT_TOKEN}x`), 401, /alert token/);
    await refused(await post(body([alert()]), `Bearer ${ALERT_TOKEN.slice(0, -1)}`), 401, /alert token/);
    await refused(await post(body([alert()]), `Bearer ${API_TOKEN}`), 401, /alert token/);
    assert.equal(received.length, 0);
  });

  it("refuses bad bodies with 400 naming the field; the services are not called", async () => {
    const { post, received } = setup();
    await refused(await post("{not json"), 400, /must be JSON/);
    await refused(await post(body([alert()], { version: "3" })), 400, /^version: expected "4"/);
    await refused(await post(body([alert()], { status: "pending" })), 400, /^status: expected firing or resolved/);
    await refused(await post(JSON.stringify({ version: "4", status: "firing" })), 400, /^alerts: /);
    await refused(
      await post(body([alert(), alert({ startsAt: "yesterday" })])),
      400,
      /^alerts\[1\]\.startsAt: .*RFC 3339/,
    );
    await refused(await post(body([alert({ endsAt: 5 })])), 400, /^alerts\[0\]\.endsAt: /);
    await refused(
      await post(body([alert({ status: "maybe" })])),
      400,
      /^alerts\[0\]\.status: expected firing or resolved/,
    );
    await refused(
      await post(body([alert({ labels: { service: "web" } })])),
      400,
      /^alerts\[0\]\.labels: an alertname label is required/,
    );
    await refused(await post(body([alert({ labels: { alertname: "A", n: 7 } })])), 400, /^alerts\[0\]\.labels\.n: /);
    await refused(await post(body([alert({ fingerprint: "" })])), 400, /^alerts\[0\]\.fingerprint: expected 1-128/);
    await refused(await post(body([alert({ fingerprint: "a b" })])), 400, /^alerts\[0\]\.fingerprint: /);
    const many = Array.from({ length: MAX_ALERTS + 1 }, (_, i) => alert({ fingerprint: `f${i}` }));
    await refused(await post(body(many)), 400, new RegExp(`^alerts: at most ${MAX_ALERTS} alerts`));
    assert.equal(received.length, 0);
  });

  it("refuses a body over the size bound with 413", async () => {
    const { post, received } = setup();
    const big = body([alert({ annotations: { summary: "x".repeat(4000) } })]).padEnd(MAX_ALERT_BODY_BYTES + 10, " ");
    await refused(await post(big), 413, new RegExp(`exceeds the limit of ${MAX_ALERT_BODY_BYTES} bytes`));
    assert.equal(received.length, 0);
  });
});

describe("GET /api/v1/alerts", () => {
  it("passes state and limit, and refuses bad ones naming them", async () => {
    const { list, listed } = setup();
    assert.equal((await list("")).status, 200);
    assert.equal((await list("?state=firing&limit=10")).status, 200);
    assert.deepEqual(listed, [
      { state: undefined, limit: undefined },
      { state: "firing", limit: 10 },
    ]);
    await refused(await list("?state=pending"), 400, /invalid state 'pending': expected one of firing, resolved/);
    await refused(await list("?limit=0"), 400, /invalid limit '0'/);
    await refused(await list("?limit=501"), 400, /invalid limit '501'/);
    await refused(await list("?sort=x"), 400, /unknown query parameter 'sort'/);
    assert.equal(listed.length, 2);
  });
});
