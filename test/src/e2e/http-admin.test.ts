// Users, the audit log, notification channels and deliveries over HTTP, against a real server
// and a real webhook receiver: each route's answer, a bad input each (400 naming the field or
// parameter), the roles of the access table (401 without a token, 403 lacking the role), no
// credential in any answer but the webhook key made by add/rotate, and every channel change in
// the audit log with the user who made it, whichever edge (HTTP or gRPC through the CLI) made it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import type { AuditEntryView, ChannelView, ErrorBody, NotificationView, UserView } from "@dockyard/web";
import {
  dockyardCli,
  startFarm,
  startHttpReceiver,
  startSmtpReceiver,
  type Farm,
  type HttpReceiver,
  type SmtpReceiver,
} from "../index";

const SMTP_PASSWORD = "smtp-password-over-http-1";

describe("users, audit, channels and notifications over HTTP", { timeout: 180_000 }, () => {
  let farm: Farm;
  let hook: HttpReceiver;
  let smtp: SmtpReceiver;
  /** Tokens of users holding one role each, and of a second admin (the channel changes are audited as hers). */
  const tokens: Record<"viewer" | "operator" | "admin2", string> = { viewer: "", operator: "", admin2: "" };
  /** Every answer's text, checked for credentials at the end. */
  const answered: string[] = [];

  before(async () => {
    hook = await startHttpReceiver();
    smtp = await startSmtpReceiver();
    farm = await startFarm({
      env: { DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback", DOCKYARD_NOTIFY_RETRY_SCALE: "0.001" },
    });
    for (const [user, role] of [
      ["ha-viewer", "viewer"],
      ["ha-operator", "operator"],
      ["ha-admin", "admin"],
    ] as const) {
      await farm.client.addUser({ name: user, roles: [role] });
      const { token } = await farm.client.createApiToken({ user });
      tokens[role === "admin" ? "admin2" : role] = token;
    }
  });
  after(async () => {
    await farm?.stop();
    await Promise.all([hook?.close(), smtp?.close()]);
  });

  async function call(method: string, path: string, opts: { token?: string | null; body?: unknown } = {}) {
    const token = opts.token === undefined ? farm.apiToken : opts.token;
    const res = await fetch(`${farm.server.httpUrl}/api/v1${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), "content-type": "application/json" },
      body: opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body),
    });
    const text = await res.text();
    answered.push(text);
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  }
  async function refused(
    method: string,
    path: string,
    status: number,
    message: RegExp,
    opts: { token?: string | null; body?: unknown } = {},
  ) {
    const res = await call(method, path, opts);
    assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.match((res.body as unknown as ErrorBody).error.message, message, `${method} ${path}`);
  }
  const audit = async (token = farm.apiToken) =>
    ((await call("GET", "/audit?limit=1000", { token })).body.entries as AuditEntryView[]) ?? [];

  it("users: add, list, disable; bad input is named; admin only", async () => {
    const added = await call("POST", "/users", { body: { name: "carol", roles: ["operator", "approver"] } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const carol = added.body.user as UserView;
    assert.deepEqual(
      [carol.name, carol.roles, carol.disabledAt, carol.activeTokens],
      ["carol", ["operator", "approver"], null, 0],
    );
    assert.ok(!Number.isNaN(Date.parse(carol.createdAt)));

    const listed = (await call("GET", "/users")).body.users as UserView[];
    assert.deepEqual(
      listed.map((u) => [u.name, u.roles, u.activeTokens, u.disabledAt]),
      [
        ["admin", ["admin"], 1, null],
        ["carol", ["operator", "approver"], 0, null],
        ["ha-admin", ["admin"], 1, null],
        ["ha-operator", ["operator"], 1, null],
        ["ha-viewer", ["viewer"], 1, null],
      ],
    );

    const disabled = await call("POST", "/users/carol/disable");
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.ok((disabled.body.user as UserView).disabledAt);

    // Bad input, each named; the server's own checks (shared with gRPC) answer the same way.
    await refused("POST", "/users", 400, /unknown role 'root': expected one of viewer, operator, approver, admin/, {
      body: { name: "dave", roles: ["root"] },
    });
    await refused("POST", "/users", 400, /a user needs at least one role/, { body: { name: "dave" } });
    await refused("POST", "/users", 400, /invalid user name 'Dave!'/, { body: { name: "Dave!", roles: ["viewer"] } });
    await refused("POST", "/users", 400, /^roles must be an array of strings$/, {
      body: { name: "dave", roles: "viewer" },
    });
    await refused("POST", "/users", 400, /request body must be JSON/, { body: "{name: dave}" });
    await refused("POST", "/users", 409, /user 'carol' already exists/, { body: { name: "carol", roles: ["viewer"] } });
    await refused("POST", "/users/carol/disable", 409, /already disabled/);
    await refused("POST", "/users/nobody/disable", 404, /nobody/);
    await refused("POST", "/users/admin/disable", 400, /you cannot disable yourself/);

    // Roles: admin only, whatever lesser role; no token is 401.
    await refused("GET", "/users", 401, /missing 'Authorization: Bearer <token>' header/, { token: null });
    await refused(
      "GET",
      "/users",
      403,
      /GET \/api\/v1\/users needs the 'admin' role; user 'ha-operator' has operator/,
      { token: tokens.operator },
    );
    await refused("POST", "/users", 403, /needs the 'admin' role/, {
      token: tokens.viewer,
      body: { name: "eve", roles: ["admin"] },
    });
    await refused("POST", "/users/ha-admin/disable", 403, /needs the 'admin' role/, { token: tokens.operator });
    assert.ok(
      ((await call("GET", "/users")).body.users as UserView[]).every((u) => u.name !== "eve"),
      "refused adds changed nothing",
    );
  });

  it("audit: the newest entries, oldest first, paged with before; bounds named; admin only", async () => {
    const entries = await audit();
    const mine = entries.filter((e) => e.target === "carol");
    assert.deepEqual(
      mine.map((e) => [e.actor, e.action]),
      [
        ["admin", "user.added"],
        ["admin", "user.disabled"],
      ],
    );
    assert.deepEqual(mine[0]!.details.roles, ["operator", "approver"]);
    assert.ok(
      entries.every((e, i) => i === 0 || e.id > entries[i - 1]!.id),
      "oldest first",
    );
    const two = (await call("GET", "/audit?limit=2")).body.entries as AuditEntryView[];
    assert.deepEqual(
      two.map((e) => e.id),
      entries.slice(-2).map((e) => e.id),
    );
    const older = (await call("GET", `/audit?limit=2&before=${two[0]!.id}`)).body.entries as AuditEntryView[];
    assert.deepEqual(
      older.map((e) => e.id),
      entries.slice(-4, -2).map((e) => e.id),
    );

    await refused("GET", "/audit?limit=1001", 400, /invalid limit '1001': expected a whole number from 1 to 1000/);
    await refused("GET", "/audit?before=x", 400, /invalid before 'x'/);
    await refused("GET", "/audit?actor=admin", 400, /unknown query parameter 'actor': expected limit, before/);
    await refused("GET", "/audit", 401, /missing 'Authorization/, { token: null });
    await refused("GET", "/audit", 403, /GET \/api\/v1\/audit needs the 'admin' role; user 'ha-viewer' has viewer/, {
      token: tokens.viewer,
    });
  });

  it("channels: add a webhook (its key answered once), list, test, rotate, notifications, remove; each change audited as its user", async () => {
    const added = await call("POST", "/channels", {
      token: tokens.admin2,
      body: { name: "http-hook", type: "webhook", url: hook.url },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const key = added.body.webhookKey as string;
    assert.match(key, /^whsec_/);
    assert.deepEqual(
      (({ name, type, target, disabledAt, disabledReason }) => ({ name, type, target, disabledAt, disabledReason }))(
        added.body.channel as ChannelView,
      ),
      { name: "http-hook", type: "webhook", target: hook.url, disabledAt: null, disabledReason: null },
    );

    // A viewer may list channels and deliveries; the list carries no key.
    const listed = await call("GET", "/channels", { token: tokens.viewer });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.body.channels as ChannelView[]).map((c) => [c.name, c.type, c.target]),
      [["http-hook", "webhook", hook.url]],
    );
    assert.doesNotMatch(JSON.stringify(listed.body), /whsec_/);

    const tested = await call("POST", "/channels/http-hook/test", { token: tokens.admin2 });
    assert.equal(tested.status, 200, JSON.stringify(tested.body));
    const first = tested.body.notification as NotificationView;
    assert.deepEqual(
      [
        first.channel,
        first.event,
        first.state,
        first.runId,
        first.nextAttemptAt,
        first.attempts.map((a) => [a.number, a.result, a.statusCode, a.error]),
      ],
      ["http-hook", "test", "delivered", null, null, [[1, "delivered", 200, null]]],
    );
    assert.ok(new Webhook(key).verify(hook.received[0]!.body, hook.received[0]!.headers as Record<string, string>));

    const rotated = await call("POST", "/channels/http-hook/rotate", {
      token: tokens.admin2,
      body: { windowSeconds: 3600 },
    });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const newKey = rotated.body.webhookKey as string;
    assert.ok(newKey.startsWith("whsec_") && newKey !== key);
    const until = Date.parse(rotated.body.previousValidUntil as string) - Date.now();
    assert.ok(until > 3_500_000 && until <= 3_600_000, `old key valid for about an hour: ${until} ms`);
    assert.equal((await call("POST", "/channels/http-hook/test", { token: tokens.admin2 })).status, 200);
    const signed = hook.received[1]!;
    for (const k of [key, newKey])
      assert.ok(
        new Webhook(k).verify(signed.body, signed.headers as Record<string, string>),
        "both keys sign during the window",
      );

    const notes = await call("GET", "/notifications?channel=http-hook&limit=10", { token: tokens.viewer });
    assert.equal(notes.status, 200);
    const deliveries = notes.body.notifications as NotificationView[];
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.state, d.attempts.length]),
      [
        [String(signed.headers["webhook-id"]), "delivered", 1],
        [first.id, "delivered", 1],
      ],
      "newest first, ids as the receiver saw them",
    );
    assert.equal(((await call("GET", "/notifications?limit=1")).body.notifications as unknown[]).length, 1);

    const removed = await call("DELETE", "/channels/http-hook", { token: tokens.admin2 });
    assert.deepEqual([removed.status, removed.body], [200, { removed: "http-hook" }]);
    assert.deepEqual((await call("GET", "/channels")).body.channels, []);
    await refused("POST", "/channels/http-hook/test", 404, /http-hook/);

    // The audit log has each change, by the user who made it, written with it.
    const changes = (await audit()).filter(
      (e) => e.target === "http-hook" || e.target.startsWith("channel.http-hook."),
    );
    assert.deepEqual(
      changes.map((e) => [e.actor, e.action, e.target]),
      [
        ["ha-admin", "secret.set", "channel.http-hook.key"],
        ["ha-admin", "channel.added", "http-hook"],
        ["ha-admin", "secret.set", "channel.http-hook.previous-key"],
        ["ha-admin", "secret.set", "channel.http-hook.key"],
        ["ha-admin", "channel.key_rotated", "http-hook"],
        ["ha-admin", "secret.removed", "channel.http-hook.key"],
        ["ha-admin", "secret.removed", "channel.http-hook.previous-key"],
        ["ha-admin", "channel.removed", "http-hook"],
      ],
    );
    const addEntry = changes.find((e) => e.action === "channel.added")!;
    assert.deepEqual(addEntry.details, { type: "webhook", target: hook.url, secrets: ["channel.http-hook.key"] });
    assert.doesNotMatch(JSON.stringify(changes), /whsec_/, "no key in the log");
  });

  it("channels: an email channel's password goes in and never comes out", async () => {
    const added = await call("POST", "/channels", {
      body: {
        name: "http-mail",
        type: "email",
        smtpUrl: `smtp://bot@127.0.0.1:${smtp.port}`,
        from: "bot@example.test",
        to: ["a@example.test"],
        secret: SMTP_PASSWORD,
      },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.webhookKey, null);
    const tested = await call("POST", "/channels/http-mail/test");
    assert.equal((tested.body.notification as NotificationView).state, "delivered", JSON.stringify(tested.body));
    assert.deepEqual(smtp.logins, [{ user: "bot", pass: SMTP_PASSWORD }]);
    await call("GET", "/channels");
    await call("GET", "/notifications");
    await audit();
    for (const text of answered)
      assert.ok(!text.includes(SMTP_PASSWORD), `an answer carries the password: ${text.slice(0, 200)}`);
  });

  it("channels: bad input is named; a failed add changes nothing and logs nothing; roles as the access table says", async () => {
    await refused("POST", "/channels", 400, /channel type 'pager' is unknown: use email, sms or webhook/, {
      body: { name: "p", type: "pager" },
    });
    await refused("POST", "/channels", 400, /invalid channel name 'bad name!'/, {
      body: { name: "bad name!", type: "webhook", url: hook.url },
    });
    await refused("POST", "/channels", 400, /--url must be an http:\/\/ or https:\/\/ URL/, {
      body: { name: "ftp", type: "webhook", url: "ftp://example.test/" },
    });
    await refused("POST", "/channels", 400, /refused: .*(private|link-local)/, {
      body: { name: "inside", type: "webhook", url: "http://10.1.2.3/hook" },
    });
    await refused("POST", "/channels", 400, /^to must be an array of strings$/, {
      body: { name: "m", type: "email", to: "a@example.test" },
    });
    await refused("POST", "/channels", 400, /unknown field 'password': expected name, type, url, smtpUrl/, {
      body: { name: "m", type: "email", password: "x" },
    });
    await refused("POST", "/channels", 400, /url is 5000 characters; the limit is 4096/, {
      body: { name: "long", type: "webhook", url: `http://x/${"a".repeat(4991)}` },
    });
    await refused("POST", "/channels/http-mail/rotate", 400, /only webhook keys rotate/);
    await refused(
      "POST",
      "/channels/http-mail/rotate",
      400,
      /^windowSeconds must be a whole number from 0 to 2592000/,
      { body: { windowSeconds: 1e9 } },
    );
    await refused("DELETE", "/channels/nope", 404, /nope/);
    await refused("DELETE", "/channels/bad%20name", 400, /invalid channel name 'bad name'/);
    await refused("GET", "/notifications?limit=0", 400, /invalid limit '0': expected a whole number from 1 to 500/);
    await refused("GET", "/notifications?channel=bad%20name", 400, /invalid channel name 'bad name'/);

    const before = (await audit()).length;
    const hookAdd = { name: "http-mail", type: "webhook", url: hook.url };
    await refused("POST", "/channels", 409, /channel 'http-mail' already exists/, { body: hookAdd });
    await refused("POST", "/channels", 400, /secret 'no-such-secret' does not exist/, {
      body: { name: "sms-x", type: "sms", url: hook.url, to: ["+15550001111"], secretName: "no-such-secret" },
    });
    const after = await audit();
    // The two GET /audit calls themselves log nothing.
    assert.equal(after.length, before, JSON.stringify(after.slice(before)));
    assert.deepEqual(
      ((await call("GET", "/channels")).body.channels as ChannelView[]).map((c) => c.name),
      ["http-mail"],
    );

    // Roles: changes and tests are admin's, listing is a viewer's.
    for (const [method, path] of [
      ["POST", "/channels"],
      ["DELETE", "/channels/http-mail"],
      ["POST", "/channels/http-mail/test"],
      ["POST", "/channels/http-mail/rotate"],
    ] as const) {
      await refused(method, path, 401, /missing 'Authorization/, { token: null });
      await refused(method, path, 403, /needs the 'admin' role; user 'ha-operator' has operator/, {
        token: tokens.operator,
        body: hookAdd,
      });
    }
    for (const path of ["/channels", "/notifications"]) {
      await refused("GET", path, 401, /missing 'Authorization/, { token: null });
      assert.equal((await call("GET", path, { token: tokens.viewer })).status, 200);
    }
  });

  it("channel changes made over gRPC (the CLI) are audited as their user too, and show in `dockyard audit`", async () => {
    const add = await dockyardCli(
      farm,
      ["channels", "add", "cli-hook", "--type", "webhook", "--url", hook.url],
      undefined,
      { DOCKYARD_TOKEN: tokens.admin2 },
    );
    assert.equal(add.code, 0, add.stderr);
    const rotate = await dockyardCli(farm, ["channels", "rotate", "cli-hook", "--window", "1"]);
    assert.equal(rotate.code, 0, rotate.stderr);
    const rm = await dockyardCli(farm, ["channels", "rm", "cli-hook"]);
    assert.equal(rm.code, 0, rm.stderr);
    const shown = await dockyardCli(farm, ["audit", "--limit", "1000", "--json"]);
    assert.equal(shown.code, 0, shown.stderr);
    const entries = (JSON.parse(shown.stdout) as AuditEntryView[]).filter((e) => e.target === "cli-hook");
    assert.deepEqual(
      entries.map((e) => [e.actor, e.action]),
      [
        ["ha-admin", "channel.added"],
        ["admin", "channel.key_rotated"],
        ["admin", "channel.removed"],
      ],
    );
    const table = await dockyardCli(farm, ["audit", "--limit", "1000"]);
    assert.match(table.stdout, /\n.+ +ha-admin +channel\.added +cli-hook +\{"type":"webhook"/);
    assert.match(table.stdout, /\n.+ +admin +channel\.removed +cli-hook +\{"type":"webhook"\}\n/);
  });
});
