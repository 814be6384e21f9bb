// The alert receiver against a real server: Alertmanager's webhook with a wrong or missing token
// is refused (401) and stores nothing, the right one stores (the positive control); the same alert
// posted twice is one row and one message to the farm's alert channel (DOCKYARD_ALERT_CHANNELS,
// a real webhook receiver); a resolved post updates the row and sends nothing; `dockyard alerts`,
// GET /api/v1/alerts and the received-alerts metric show it. Rollbacks: alerts-rollback.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { tempDir } from "@dockyard/testkit";
import { dockyardCli, startFarm, startHttpReceiver, waitFor, type Farm, type HttpReceiver } from "../index";

const TOKEN = `alert-${randomBytes(16).toString("hex")}`;

function webhookBody(status: "firing" | "resolved", alerts: Record<string, unknown>[]) {
  return JSON.stringify({
    version: "4",
    groupKey: '{}:{alertname="DockyardQueueBacklog"}',
    truncatedAlerts: 0,
    status,
    receiver: "dockyard",
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts,
  });
}

const backlog = (status: "firing" | "resolved", fingerprint: string, endsAt = "0001-01-01T00:00:00Z") => ({
  status,
  labels: { alertname: "DockyardQueueBacklog", severity: "warning" },
  annotations: { summary: `12 stages queued for over 10 minutes (${fingerprint})` },
  startsAt: "2026-12-07T01:00:00.123456789Z",
  endsAt,
  generatorURL: "http://prometheus:9090/graph",
  fingerprint,
});

describe("alert receiver", { timeout: 120_000 }, () => {
  let farm: Farm;
  let hook: HttpReceiver;
  let url = "";

  before(async () => {
    const dir = tempDir("alert-token");
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    hook = await startHttpReceiver();
    farm = await startFarm({
      env: {
        DOCKYARD_ALERT_TOKEN_FILE: tokenFile,
        DOCKYARD_ALERT_CHANNELS: "farm-hook",
        DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback",
      },
    });
    await farm.client.addChannel({ name: "farm-hook", type: "webhook", url: hook.url });
    url = `${farm.server.httpUrl}/api/v1/alerts/alertmanager`;
  });
  after(async () => {
    await farm?.stop();
    await hook?.close();
  });

  const post = (body: string, auth?: string) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth === undefined ? {} : { authorization: auth }) },
      body,
    });
  const rows = async () =>
    (
      await farm.pg.query<{
        fingerprint: string;
        status: string;
        ends_at: Date | null;
        actions: { notified: string[] };
      }>("SELECT fingerprint, status, ends_at, actions FROM alerts ORDER BY fingerprint")
    ).rows;
  const alertDeliveries = async () =>
    (await farm.pg.query<{ id: string; state: string }>("SELECT id, state FROM deliveries WHERE event = 'alert'")).rows;

  it("refuses a missing or wrong token and stores nothing; the right token stores", async () => {
    const body = webhookBody("firing", [backlog("firing", "0a0a0a0a0a0a0a0a")]);
    for (const auth of [undefined, `Bearer ${TOKEN}x`, `Bearer ${farm.apiToken}`, TOKEN]) {
      const res = await post(body, auth);
      assert.equal(res.status, 401, `${auth?.slice(0, 12)}: ${await res.text()}`);
    }
    assert.deepEqual(await rows(), [], "nothing stored by a refused post");
    const ok = await post(body, `Bearer ${TOKEN}`);
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.deepEqual(((await ok.json()) as { receipt: unknown }).receipt, {
      received: 1,
      stored: 1,
      resolved: 0,
      repeated: 0,
    });
    assert.equal((await rows()).length, 1, "the right token stores (positive control)");
  });

  it("stores an alert posted twice once and notifies it once; resolved updates its row", async () => {
    const fp = "1b1b1b1b1b1b1b1b";
    const firing = webhookBody("firing", [backlog("firing", fp)]);
    assert.equal((await post(firing, `Bearer ${TOKEN}`)).status, 200);
    const again = await post(firing, `Bearer ${TOKEN}`);
    assert.deepEqual(((await again.json()) as { receipt: unknown }).receipt, {
      received: 1,
      stored: 0,
      resolved: 0,
      repeated: 1,
    });
    // Positive control for "no second message": a different alert posted after the repeat is delivered.
    const control = "2c2c2c2c2c2c2c2c";
    assert.equal((await post(webhookBody("firing", [backlog("firing", control)]), `Bearer ${TOKEN}`)).status, 200);
    await waitFor(() => hook.received.some((r) => r.body.includes(`(${control})`)), {
      timeoutMs: 30_000,
      message: "the control alert's message",
    });
    await waitFor(async () => (await alertDeliveries()).every((d) => d.state !== "pending"), {
      timeoutMs: 30_000,
      message: "every alert message sent",
    });
    const mine = hook.received.filter((r) => r.body.includes(`(${fp})`));
    assert.equal(mine.length, 1, "one message for the alert posted twice");
    const msg = JSON.parse(mine[0]!.body) as { type: string; data: { subject: string; body: string } };
    assert.match(msg.data.subject, /alert DockyardQueueBacklog: 12 stages queued/);
    assert.match(msg.data.body, /severity=warning/);
    assert.equal((await rows()).filter((r) => r.fingerprint === fp).length, 1, "one row");
    assert.deepEqual((await rows()).find((r) => r.fingerprint === fp)!.actions.notified, ["farm-hook"]);

    const sent = (await alertDeliveries()).length;
    const resolved = await post(
      webhookBody("resolved", [backlog("resolved", fp, "2026-12-07T01:20:00Z")]),
      `Bearer ${TOKEN}`,
    );
    assert.deepEqual(((await resolved.json()) as { receipt: unknown }).receipt, {
      received: 1,
      stored: 0,
      resolved: 1,
      repeated: 0,
    });
    const row = (await rows()).find((r) => r.fingerprint === fp)!;
    assert.equal(row.status, "resolved");
    assert.equal(row.ends_at?.toISOString(), "2026-12-07T01:20:00.000Z");
    assert.equal((await alertDeliveries()).length, sent, "a resolved alert sends nothing");
  });

  it("`dockyard alerts`, GET /api/v1/alerts and the metric show them", async () => {
    const out = await dockyardCli(farm, ["alerts", "--json"]);
    assert.equal(out.code, 0, out.stderr);
    const list = JSON.parse(out.stdout) as {
      fingerprint: string;
      status: string;
      summary: string;
      notified: string[];
    }[];
    const one = list.find((a) => a.fingerprint === "1b1b1b1b1b1b1b1b");
    assert.equal(one?.status, "resolved");
    assert.match(one?.summary ?? "", /12 stages queued/);
    assert.deepEqual(one?.notified, ["farm-hook"]);
    const firing = await dockyardCli(farm, ["alerts", "--state", "firing"]);
    assert.equal(firing.code, 0, firing.stderr);
    assert.match(firing.stdout, /ALERT\s+STATE/);
    assert.match(firing.stdout, /DockyardQueueBacklog\s+firing/);
    assert.doesNotMatch(firing.stdout, /resolved/);
    const bad = await dockyardCli(farm, ["alerts", "--state", "pending"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--state must be firing or resolved/);

    const http = await fetch(`${farm.server.httpUrl}/api/v1/alerts?state=resolved`, {
      headers: { authorization: `Bearer ${farm.apiToken}` },
    });
    assert.equal(http.status, 200);
    const body = (await http.json()) as { alerts: { fingerprint: string }[] };
    assert.deepEqual(
      body.alerts.map((a) => a.fingerprint),
      ["1b1b1b1b1b1b1b1b"],
    );
    const metrics = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
    // Accepted posts only: 1 (first test) + 2 (twice) + 1 (control) + 1 (resolved).
    assert.match(metrics, /dockyard_alerts_received_total\{alertname="DockyardQueueBacklog"\} 5/);
  });
});
