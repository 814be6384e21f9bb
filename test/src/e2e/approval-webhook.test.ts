// Approval decisions from an incoming webhook (chat tools), signed as Standard Webhooks: an
// admin adds a hook bound to a user (`dockyard hooks add` prints its key once); a signed
// decision approves as that user, via webhook, recorded and audited; a bad signature, an old
// timestamp and a replayed webhook-id are refused and move nothing (each beside a decision
// that does); a decision for run A leaves run B waiting; the approver checks still apply.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { readAudit, SERVER_ACTOR } from "@dockyard/control-plane";
import {
  dockyardCli,
  stageRow,
  startFarm,
  submit,
  userClient,
  waitForRun,
  waitingReasonOf,
  type Farm,
  type UserClient,
} from "../index";

const pipeline = (name: string, approvers: string) =>
  [
    `name: ${name}`,
    "stages:",
    `  gate: { type: approval, approvers: [${approvers}], timeout: 1h }`,
    '  ship: { executor: shell, command: "echo shipped", needs: [gate] }',
    "",
  ].join("\n");

interface Sent {
  status: number;
  body: { error?: { code: string; message: string }; run?: { id: string }; by?: string };
}

describe("approval decisions by incoming webhook", () => {
  let farm: Farm;
  let carol: UserClient;
  let key: string;
  before(async () => {
    farm = await startFarm();
    await farm.startAgent({ name: "wh-shell", executor: "shell", capacity: 4 });
    await userClient(farm, "dana", undefined, ["approver"]);
    carol = await userClient(farm, "carol");
    const added = await dockyardCli(farm, ["hooks", "add", "chat", "--user", "dana"]);
    assert.equal(added.code, 0, added.stderr);
    key = /signing key \(shown once; keep it in the chat tool\): (whsec_\S+)\n/.exec(added.stdout)![1]!;
  });
  after(async () => {
    carol?.client.close();
    await farm?.stop();
  });

  async function send(body: object, opts: { id?: string; at?: Date; key?: string; hook?: string } = {}): Promise<Sent> {
    const text = JSON.stringify(body);
    const id = opts.id ?? `msg_${randomUUID()}`;
    const at = opts.at ?? new Date();
    const signature = new Webhook(opts.key ?? key).sign(id, at, text);
    const res = await fetch(`${farm.server.httpUrl}/hooks/v1/approvals/${opts.hook ?? "chat"}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body: text,
    });
    return { status: res.status, body: (await res.json()) as Sent["body"] };
  }

  it("lists the hook without its key; a signed decision approves run A as the hook's user via webhook, and run B stays waiting", async () => {
    const listed = await dockyardCli(farm, ["hooks", "list", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { name: string; user: string }[]).map((h) => [h.name, h.user]),
      [["chat", "dana"]],
    );
    assert.doesNotMatch(listed.stdout, /whsec_/);
    const yaml = pipeline("wh-ok", "dana");
    const a = await submit(carol.client, yaml);
    const b = await submit(carol.client, yaml);
    await waitingReasonOf(farm, a);
    await waitingReasonOf(farm, b);
    const ok = await send({ run: "wh-ok#1", stage: "gate", decision: "approve", comment: "from chat" });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.run!.id, a);
    assert.equal(ok.body.by, "dana");
    assert.equal((await waitForRun(carol.client, a)).state, "succeeded");
    const gate = await stageRow(farm, a, "gate");
    assert.equal(gate.reason, "approved by dana via webhook: from chat");
    assert.deepEqual(gate.outputs, {
      values: { decision: "approved", decided_by: "dana", via: "webhook", comment: "from chat" },
    });
    assert.equal((await stageRow(farm, b, "gate")).state, "running", "run B still waits");
    const audited = (await readAudit(farm.server.db.db, 100)).filter(
      (e) => e.action.startsWith("approval") && e.target.includes(a),
    );
    assert.ok(
      audited.some((e) => e.actor === "dana" && (e.details as { via?: string }).via === "webhook"),
      `the audit log records the decision via webhook: ${JSON.stringify(audited)}`,
    );
    // B can still be decided (rejected) by its own message.
    const rejected = await send({ run: "wh-ok#2", stage: "gate", decision: "reject", user: "dana" });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.equal((await waitForRun(carol.client, b)).state, "failed");
  });

  it("refuses a bad signature, an old timestamp, a replayed id, an unknown hook and another user's name, moving nothing; then a good one decides", async () => {
    const run = await submit(carol.client, pipeline("wh-bad", "dana"));
    await waitingReasonOf(farm, run);
    const body = { run, stage: "gate", decision: "approve" };
    const badSig = await send(body, { key: `whsec_${Buffer.alloc(32, 7).toString("base64")}` });
    assert.equal(badSig.status, 401);
    assert.equal(
      badSig.body.error!.message,
      "webhook refused: webhook-signature does not match the body (wrong key, or the body changed)",
    );
    const old = await send(body, { at: new Date(Date.now() - 6 * 60_000) });
    assert.equal(old.status, 401);
    assert.equal(old.body.error!.message, "webhook refused: webhook-timestamp is more than 5 minutes old");
    const unknown = await send(body, { hook: "nope" });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body.error!.message, "unknown hook 'nope'");
    const other = await send({ ...body, user: "carol" });
    assert.equal(other.status, 403);
    assert.equal(other.body.error!.message, "hook 'chat' decides as user 'dana' only; it may not decide as 'carol'");
    const invalid = await send({ ...body, decision: "maybe" });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error!.message, 'decision must be "approve" or "reject"');
    assert.equal((await stageRow(farm, run, "gate")).state, "running", "no refusal moved the stage");
    // A replay of an accepted message: the first decides (positive control), its replay is refused.
    const id = `msg_${randomUUID()}`;
    const first = await send({ ...body, comment: "once" }, { id });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((await waitForRun(carol.client, run)).state, "succeeded");
    const replay = await send({ ...body, comment: "once" }, { id });
    assert.equal(replay.status, 409);
    assert.equal(replay.body.error!.message, `webhook-id '${id}' was already received: a replayed message is refused`);
  });

  it("forbid_self applies to a hook's user: the run's starter's hook is refused, another approver's hook decides", async () => {
    const erin = await userClient(farm, "erin");
    const { key: erinKey } = await farm.server.hooks.add("erin-chat", "erin", SERVER_ACTOR, new Date());
    const run = await submit(
      erin.client,
      pipeline("wh-self", "erin, dana").replace("timeout: 1h", "timeout: 1h, forbid_self: true"),
    );
    await waitingReasonOf(farm, run);
    const self = await send({ run, stage: "gate", decision: "approve" }, { key: erinKey, hook: "erin-chat" });
    assert.equal(self.status, 403);
    assert.match(
      self.body.error!.message,
      /^erin started run wh-self#1 and may not decide its approval 'gate' \(forbid_self\)/,
    );
    assert.equal((await stageRow(farm, run, "gate")).state, "running", "the refusal moved nothing");
    const other = await send({ run, stage: "gate", decision: "approve" });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    assert.equal((await waitForRun(carol.client, run)).state, "succeeded");
    erin.client.close();
  });

  it("a replayed id is refused before it could move another waiting run; the approver list still applies", async () => {
    const yaml = pipeline("wh-rep", "carol");
    const run = await submit(carol.client, yaml);
    await waitingReasonOf(farm, run);
    const notListed = await send({ run, stage: "gate", decision: "approve" });
    assert.equal(notListed.status, 403);
    assert.match(
      notListed.body.error!.message,
      /^dana may not decide approval 'gate' of run wh-rep#1: approvers of 'gate' are carol$/,
    );
    const id = `msg_${randomUUID()}`;
    const gated = await submit(carol.client, pipeline("wh-rep2", "dana"));
    await waitingReasonOf(farm, gated);
    const replayed = await send({ run: gated, stage: "gate", decision: "approve" }, { id });
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    const again = await send({ run, stage: "gate", decision: "reject" }, { id });
    assert.equal(again.status, 409, "the same id with another body is a replay too");
    assert.equal((await stageRow(farm, run, "gate")).state, "running");
    const removed = await dockyardCli(farm, ["hooks", "rm", "chat"]);
    assert.equal(removed.code, 0, removed.stderr);
    const gone = await send({ run, stage: "gate", decision: "reject" });
    assert.equal(gone.status, 401, "a removed hook's key no longer decides");
  });
});
