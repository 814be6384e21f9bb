// `dockyard channels` and `dockyard notifications` as a user runs them: the binary against a
// farm and real receivers; a pipeline naming an unknown channel is refused at submit.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import {
  dockyardCli,
  startFarm,
  startHttpReceiver,
  startSmtpReceiver,
  submit,
  waitFor,
  type Farm,
  type HttpReceiver,
  type SmtpReceiver,
} from "../index";

describe("dockyard channels and notifications (CLI)", { timeout: 120_000 }, () => {
  let farm: Farm;
  let hook: HttpReceiver;
  let smtp: SmtpReceiver;

  before(async () => {
    hook = await startHttpReceiver();
    smtp = await startSmtpReceiver();
    farm = await startFarm({
      env: { DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback", DOCKYARD_NOTIFY_RETRY_SCALE: "0.001" },
    });
  });
  after(async () => {
    await farm?.stop();
    await Promise.all([hook?.close(), smtp?.close()]);
  });

  it("adds a webhook (key shown once), tests it, rotates its key, lists and removes it", async () => {
    const add = await dockyardCli(farm, ["channels", "add", "cli-hook", "--type", "webhook", "--url", hook.url]);
    assert.equal(add.code, 0, add.stderr);
    const key = /whsec_\S+/.exec(add.stdout)?.[0];
    assert.ok(key, add.stdout);

    const test = await dockyardCli(farm, ["channels", "test", "cli-hook"]);
    assert.equal(test.code, 0, test.stdout + test.stderr);
    assert.match(test.stdout, /^msg_\w+: delivered \(delivered 200\)/);
    assert.ok(new Webhook(key).verify(hook.received[0]!.body, hook.received[0]!.headers as Record<string, string>));

    const rotate = await dockyardCli(farm, ["channels", "rotate", "cli-hook", "--window", "1"]);
    assert.equal(rotate.code, 0, rotate.stderr);
    const newKey = /whsec_\S+/.exec(rotate.stdout)?.[0];
    assert.ok(newKey && newKey !== key);
    assert.equal((await dockyardCli(farm, ["channels", "test", "cli-hook"])).code, 0);
    const signed = hook.received[1]!;
    assert.equal(String(signed.headers["webhook-signature"]).split(" ").length, 2, "both keys sign during the window");
    for (const k of [key, newKey])
      assert.ok(new Webhook(k).verify(signed.body, signed.headers as Record<string, string>));

    const list = await dockyardCli(farm, ["channels", "list", "--json"]);
    const channels = JSON.parse(list.stdout) as { name: string; type: string; target: string }[];
    assert.deepEqual(
      channels.map((c) => [c.name, c.type, c.target]),
      [["cli-hook", "webhook", hook.url]],
    );
    assert.doesNotMatch(list.stdout, /whsec_/);

    const notes = JSON.parse(
      (await dockyardCli(farm, ["notifications", "--channel", "cli-hook", "--json"])).stdout,
    ) as {
      state: string;
      attempts: unknown[];
    }[];
    assert.deepEqual(
      notes.map((n) => [n.state, n.attempts.length]),
      [
        ["delivered", 1],
        ["delivered", 1],
      ],
    );
    assert.match(
      (await dockyardCli(farm, ["notifications"])).stdout,
      /cli-hook {2}test {2}delivered.*\n {2}#1 .* delivered 200 \d+ ms/,
    );

    assert.equal((await dockyardCli(farm, ["channels", "rm", "cli-hook"])).code, 0);
    const gone = await dockyardCli(farm, ["channels", "test", "cli-hook"]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /channel not found: cli-hook/);
  });

  it("adds an email channel with the password from stdin", async () => {
    const add = await dockyardCli(
      farm,
      [
        "channels",
        "add",
        "cli-mail",
        "--type",
        "email",
        "--smtp-url",
        `smtp://bot@127.0.0.1:${smtp.port}`,
        "--from",
        "bot@example.test",
        "--to",
        "a@example.test",
        "--password-stdin",
      ],
      "smtp-password-1\n",
    );
    assert.equal(add.code, 0, add.stderr);
    assert.equal((await dockyardCli(farm, ["channels", "test", "cli-mail"])).code, 0);
    await waitFor(() => smtp.mails.length === 1, { message: "the mail" });
    assert.deepEqual(smtp.logins, [{ user: "bot", pass: "smtp-password-1" }]);
  });

  it("adds an SMS channel whose token is a secret already in the store, and leaves that secret when removed", async () => {
    await farm.client.setSecret({ name: "gateway-token", value: Buffer.from("gw-token-0123456") });
    const add = await dockyardCli(farm, [
      "channels",
      "add",
      "cli-sms",
      "--type",
      "sms",
      "--url",
      hook.url,
      "--to",
      "+15550001111",
      "--token-secret",
      "gateway-token",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const before = hook.received.length;
    assert.equal((await dockyardCli(farm, ["channels", "test", "cli-sms"])).code, 0);
    assert.equal(hook.received[before]!.headers.authorization, "Bearer gw-token-0123456");
    assert.equal((await dockyardCli(farm, ["channels", "rm", "cli-sms"])).code, 0);
    assert.ok((await farm.client.listSecrets({})).secrets.some((s) => s.name === "gateway-token"));
    const missing = await dockyardCli(farm, [
      "channels",
      "add",
      "cli-sms2",
      "--type",
      "sms",
      "--url",
      hook.url,
      "--to",
      "+15550001111",
      "--token-secret",
      "nope-token",
    ]);
    assert.match(missing.stderr, /secret 'nope-token' does not exist/);
  });

  it("refuses bad input with a message naming the problem", async () => {
    const bad = await dockyardCli(farm, ["channels", "add", "x", "--type", "pager", "--url", hook.url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /channel type 'pager' is unknown: use email, sms or webhook/);
    const creds = await dockyardCli(farm, [
      "channels",
      "add",
      "y",
      "--type",
      "email",
      "--smtp-url",
      "smtp://u:pw@127.0.0.1:25",
      "--from",
      "a@b.c",
      "--to",
      "d@e.f",
    ]);
    assert.match(creds.stderr, /must not carry the password/);
    await assert.rejects(
      submit(
        farm.client,
        "name: n\nnotify: [{ on: [failed], channels: [nope] }]\nstages:\n  a: { executor: shell, commands: ['true'] }\n",
      ),
      /channel 'nope' does not exist/,
    );
    await assert.rejects(
      submit(
        farm.client,
        "name: n\nnotify: [{ on: [exploded], channels: [cli-mail] }]\nstages:\n  a: { executor: shell, commands: ['true'] }\n",
      ),
      /notify\[0\].on\[0\]: unknown notify event 'exploded': use succeeded, failed/,
    );
  });
});
