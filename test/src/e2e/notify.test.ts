// Notification channels end to end, against real receivers on loopback: a webhook (signed as
// Standard Webhooks, checked with the `standardwebhooks` package), an SMS gateway (HTTP) and
// email (a real SMTP server); retries on a scaled-down schedule, a 410 that disables its channel
// and says so on another, private targets refused, and no secret value in any message.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { enqueueNotification } from "@dockyard/control-plane";
import {
  startFarm,
  startHttpReceiver,
  startSmtpReceiver,
  submit,
  waitFor,
  waitForRun,
  type Farm,
  type HttpReceiver,
  type SmtpReceiver,
} from "../index";

/** An attempt history for an assertion message (bigint times dropped). */
const attemptsText = (h: { result: string; error: string }[] | undefined) =>
  (h ?? []).map((a) => `${a.result}: ${a.error}`).join("; ");

describe("notification channels", { timeout: 180_000 }, () => {
  let farm: Farm;
  let hook: HttpReceiver;
  let sms: HttpReceiver;
  let smtp: SmtpReceiver;
  let hookKey = "";
  const secretValue = `notify-secret-${randomBytes(12).toString("hex")}`;

  before(async () => {
    hook = await startHttpReceiver();
    sms = await startHttpReceiver();
    smtp = await startSmtpReceiver();
    farm = await startFarm({
      env: {
        DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback",
        DOCKYARD_NOTIFY_RETRY_SCALE: "0.001",
        DOCKYARD_NOTIFY_FALLBACK_CHANNEL: "ops-hook",
      },
      agents: [{ name: "notify-shell", executor: "shell" }],
    });
    await farm.client.setSecret({ name: "notify-token", value: Buffer.from(secretValue) });
    const added = await farm.client.addChannel({ name: "ops-hook", type: "webhook", url: hook.url });
    hookKey = added.webhookKey;
    assert.match(hookKey, /^whsec_/);
  });
  after(async () => {
    await farm?.stop();
    await Promise.all([hook?.close(), sms?.close(), smtp?.close()]);
  });

  const deliveriesOf = async (channel: string) =>
    (await farm.client.listNotifications({ channel, limit: 100 })).deliveries;

  it("delivers a webhook once, signed so that standardwebhooks verifies it", async () => {
    const res = await farm.client.testChannel({ name: "ops-hook" });
    assert.equal(res.delivery?.state, "delivered", attemptsText(res.delivery?.attemptHistory));
    const got = hook.received.filter((r) => r.headers["webhook-id"] === res.delivery!.id);
    assert.equal(got.length, 1);
    const payload = new Webhook(hookKey).verify(got[0]!.body, got[0]!.headers as Record<string, string>) as {
      type: string;
      data: { subject: string };
    };
    assert.equal(payload.type, "test");
    assert.match(payload.data.subject, /test message for channel ops-hook/);
    assert.throws(() =>
      new Webhook(`whsec_${randomBytes(32).toString("base64")}`).verify(
        got[0]!.body,
        got[0]!.headers as Record<string, string>,
      ),
    );
  });

  it("delivers email over SMTP once, logging in with the password from the secret store", async () => {
    const password = `smtp-pass-${randomBytes(8).toString("hex")}`;
    await farm.client.addChannel({
      name: "ops-mail",
      type: "email",
      smtpUrl: `smtp://dockyard@127.0.0.1:${smtp.port}`,
      from: "dockyard@example.test",
      to: ["oncall@example.test"],
      secret: Buffer.from(password),
    });
    const res = await farm.client.testChannel({ name: "ops-mail" });
    assert.equal(res.delivery?.state, "delivered", attemptsText(res.delivery?.attemptHistory));
    const mails = smtp.mails.filter((m) => m.headers.get("x-dockyard-message-id") === res.delivery!.id);
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.subject ?? "", /test message for channel ops-mail/);
    assert.deepEqual(smtp.logins.at(-1), { user: "dockyard", pass: password });
    const row = await farm.pg.query<{ config: unknown; secret_refs: unknown }>(
      "SELECT config, secret_refs FROM channels WHERE name = 'ops-mail'",
    );
    assert.doesNotMatch(JSON.stringify(row.rows[0]), new RegExp(password), "the password is not in the channels table");
  });

  it("delivers an SMS through the HTTP gateway, Twilio-shaped by default", async () => {
    await farm.client.addChannel({
      name: "ops-sms",
      type: "sms",
      url: sms.url,
      to: ["+15550001111"],
      from: "+15550002222",
      user: "AC123",
      secret: Buffer.from("sms-token-123456"),
    });
    const res = await farm.client.testChannel({ name: "ops-sms" });
    assert.equal(res.delivery?.state, "delivered", attemptsText(res.delivery?.attemptHistory));
    assert.equal(sms.received.length, 1);
    const form = new URLSearchParams(sms.received[0]!.body);
    assert.equal(form.get("To"), "+15550001111");
    assert.equal(form.get("From"), "+15550002222");
    assert.match(form.get("Body") ?? "", /test message for channel ops-sms/);
    assert.equal(
      sms.received[0]!.headers.authorization,
      `Basic ${Buffer.from("AC123:sms-token-123456").toString("base64")}`,
    );
  });

  it("refuses private and link-local targets with a message naming why", async () => {
    for (const url of ["http://10.0.0.1/hook", "http://169.254.169.254/latest", "http://[fd00::1]/x"]) {
      await assert.rejects(farm.client.addChannel({ name: "bad", type: "webhook", url }), (err: Error) => {
        assert.match(err.message, /refused: .* is a (private|link-local) address.*DOCKYARD_NOTIFY_ALLOW_PRIVATE/);
        return true;
      });
    }
    assert.equal(
      (await farm.client.listChannels({})).channels.filter((c) => c.name === "bad").length,
      0,
      "nothing half-written",
    );
  });

  it("retries on the (scaled) schedule until the receiver takes it, with one webhook-id", async () => {
    const flaky = await startHttpReceiver({ respond: (_r, n) => (n <= 2 ? 503 : 200) });
    try {
      await farm.client.addChannel({ name: "flaky", type: "webhook", url: flaky.url });
      const [id] = await enqueueNotification(
        farm.server.db.db,
        { channels: ["flaky"], subject: "s", body: "b", context: { event: "test", status: "test" } },
        new Date(),
      );
      const d = await waitFor(
        async () => (await deliveriesOf("flaky")).find((x) => x.id === id && x.state === "delivered"),
        {
          message: "delivered after retries",
        },
      );
      assert.deepEqual(
        d.attemptHistory.map((a) => [a.result, a.statusCode]),
        [
          ["failed", 503],
          ["failed", 503],
          ["delivered", 200],
        ],
      );
      assert.deepEqual(new Set(flaky.received.map((r) => r.headers["webhook-id"])), new Set([id]));
      const metrics = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
      assert.match(metrics, /^dockyard_notification_attempts_total\{result="failed"\} [2-9]/m);
      assert.match(metrics, /^dockyard_notifications_pending \d+$/m);
    } finally {
      await flaky.close();
    }
  });

  it("disables a channel whose receiver answers 410 and says so on another channel", async () => {
    const gone = await startHttpReceiver({ respond: () => 410 });
    try {
      await farm.client.addChannel({ name: "a-gone", type: "webhook", url: gone.url });
      await enqueueNotification(
        farm.server.db.db,
        { channels: ["a-gone"], subject: "s", body: "b", context: { event: "test", status: "test" } },
        new Date(),
      );
      await waitFor(
        async () =>
          (await farm.client.listChannels({})).channels.find((c) => c.name === "a-gone" && c.disabledAtMs > 0n),
        {
          message: "channel disabled",
        },
      );
      // The configured fallback channel hears about it.
      const told = await waitFor(
        () => hook.received.find((r) => r.body.includes("channel.disabled") && r.body.includes("a-gone")),
        {
          message: "told on ops-hook",
        },
      );
      assert.match(told.body, /410 Gone/);
      assert.equal(gone.received.length, 1, "no retry after a 410");
      // The disabling is in the audit log, by the server, with the reason (written with it).
      const disabled = (await farm.client.listAudit({ limit: 1000 })).entries.filter(
        (e) => e.action === "channel.disabled" && e.target === "a-gone",
      );
      assert.equal(disabled.length, 1);
      assert.equal(disabled[0]!.actor, "server");
      assert.match(disabled[0]!.detailsJson, /410 Gone/);
      const later = await farm.client.testChannel({ name: "a-gone" }).catch((err: Error) => err);
      assert.match(String(later), /disabled/);
    } finally {
      await gone.close();
    }
  });

  it("sends run notifications from the pipeline's notify: rules, carrying no secret value", async () => {
    const { webhookKey: runsKey } = await farm.client.addChannel({ name: "runs-hook", type: "webhook", url: hook.url });
    const runId = await submit(
      farm.client,
      `
name: notify-run
notify:
  - on: [failed]
    channels: [runs-hook]
    subject: "{{ run.name }} #{{ run.number }} {{ status }}"
    body: "stage {{ stage.name }} {{ stage.state }}; token={{ outputs.leak.token }} {{ links.run }}"
  - on: [succeeded]
    channels: [runs-hook]
stages:
  leak: { executor: shell, env: { KEY: { secret: notify-token } }, commands: ['echo "token=$KEY" >> "$DOCKYARD_OUTPUT"', 'echo "$KEY"'] }
  boom: { executor: shell, needs: [leak], commands: ["exit 3"] }
`,
    );
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "failed");
    const msg = await waitFor(() => hook.received.find((r) => r.body.includes(runId)), { message: "run notification" });
    assert.ok(new Webhook(runsKey).verify(msg.body, msg.headers as Record<string, string>));
    const body = JSON.parse(msg.body) as { type: string; data: { subject: string; body: string } };
    assert.equal(body.type, "run.failed");
    assert.equal(body.data.subject, "notify-run #1 failed");
    assert.match(body.data.body, /^stage boom failed; token=\*\*\* http:\/\/127\.0\.0\.1:\d+\/api\/v1\/runs\//);
    assert.equal(
      hook.received.filter((r) => r.body.includes(runId)).length,
      1,
      "one message: the succeeded rule did not fire",
    );
    // A context that carries the value outright (as an approval or notify stage could): masked too.
    await enqueueNotification(
      farm.server.db.db,
      {
        channels: ["runs-hook"],
        subject: "{{ leak }}",
        body: "x {{ leak }} y",
        context: { event: "test", status: "test", leak: secretValue },
      },
      new Date(),
    );
    await waitFor(() => hook.received.find((r) => r.body.includes("x *** y")), { message: "masked message" });
    for (const r of [...hook.received, ...sms.received])
      assert.ok(!r.body.includes(secretValue) && !JSON.stringify(r.headers).includes(secretValue));
    for (const m of smtp.mails)
      assert.ok(!(m.text ?? "").includes(secretValue) && !(m.subject ?? "").includes(secretValue));
  });

  it("sends on a run's success (the batched end of succeeded attempts), with the default templates", async () => {
    const runId = await submit(
      farm.client,
      `
name: notify-ok
notify:
  - on: [succeeded]
    channels: [runs-hook, ops-sms]
stages:
  one: { executor: shell, commands: ['echo "image=reg/app:1" >> "$DOCKYARD_OUTPUT"'] }
  two: { executor: shell, needs: [one], commands: ["true"] }
`,
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const msg = await waitFor(() => hook.received.find((r) => r.body.includes(runId)), {
      message: "success notification",
    });
    const body = JSON.parse(msg.body) as {
      type: string;
      data: { subject: string; body: string; outputs: Record<string, Record<string, string>> };
    };
    assert.equal(body.type, "run.succeeded");
    assert.equal(body.data.subject, "[dockyard] notify-ok #1 succeeded");
    assert.deepEqual(body.data.outputs, { one: { image: "reg/app:1" } });
    await waitFor(() => sms.received.find((r) => decodeURIComponent(r.body).includes("notify-ok #1 succeeded")), {
      message: "the SMS too",
    });
  });
});
