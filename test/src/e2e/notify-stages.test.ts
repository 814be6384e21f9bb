// Notifications from stages, end to end on a real farm with a real webhook receiver (messages
// checked with `standardwebhooks`): a `notify` stage sends its templates (run, stage, status,
// earlier outputs) and succeeds with the message ids; a channel that does not exist is refused
// at submit; an approval's waiting / approved events reach the pipeline's `notify:` rules (with
// the stage and the decider), its reminder arrives before the deadline, a deadline that approves
// sends `approved` by timeout; no secret value in any message.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import {
  deadlineOf,
  stageRow,
  startFarm,
  startHttpReceiver,
  submit,
  userClient,
  waitFor,
  waitForRun,
  waitingReasonOf,
  type Farm,
  type HttpReceiver,
  type ReceivedRequest,
  type UserClient,
} from "../index";

interface Message {
  type: string;
  data: {
    subject: string;
    body: string;
    stage?: { name: string; state: string };
    approval?: Record<string, string>;
    run?: { id: string };
  };
}

describe("notifications from stages", { timeout: 180_000 }, () => {
  let farm: Farm;
  let hook: HttpReceiver;
  let key = "";
  let alice: UserClient;
  const secretValue = `stage-secret-${randomBytes(12).toString("hex")}`;

  before(async () => {
    hook = await startHttpReceiver();
    farm = await startFarm({
      env: { DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback" },
      agents: [{ name: "ns-shell", executor: "shell" }],
    });
    await farm.client.setSecret({ name: "ns-token", value: Buffer.from(secretValue) });
    key = (await farm.client.addChannel({ name: "team-hook", type: "webhook", url: hook.url })).webhookKey;
    alice = await userClient(farm, "alice");
  });
  after(async () => {
    alice?.client.close();
    await farm?.stop();
    await hook?.close();
  });

  /** The verified messages about `runId` (a forged or unsigned one would throw). */
  const messagesOf = (runId: string): { req: ReceivedRequest; msg: Message }[] =>
    hook.received
      .filter((r) => r.body.includes(runId))
      .map((req) => ({
        req,
        msg: new Webhook(key).verify(req.body, req.headers as Record<string, string>) as Message,
      }));
  const waitMessage = (runId: string, type: string, n = 1) =>
    waitFor(
      () => {
        const found = messagesOf(runId).filter((m) => m.msg.type === type);
        return found.length >= n ? found : undefined;
      },
      { message: `${n} ${type} message(s) for ${runId}`, timeoutMs: 15_000 },
    );

  it("a notify stage sends its templates (run, stage, status, earlier outputs) and succeeds with the message ids", async () => {
    const runId = await submit(
      farm.client,
      `
name: ns-stage
stages:
  leak: { executor: shell, env: { KEY: { secret: ns-token } }, commands: ['echo "tag=v7" >> "$DOCKYARD_OUTPUT"', 'echo "token=$KEY" >> "$DOCKYARD_OUTPUT"'] }
  tell:
    type: notify
    needs: [leak]
    channels: [team-hook]
    subject: "{{ run.name }} #{{ run.number }}: {{ stage.name }} says \${{ stages.leak.outputs.tag }}"
    body: "status {{ status }}; tag {{ outputs.leak.tag }}; token \${{ stages.leak.outputs.token }} / {{ outputs.leak.token }}; {{ links.run }}"
`,
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const tell = await stageRow(farm, runId, "tell");
    assert.equal(tell.state, "succeeded");
    assert.equal(tell.reason, "sent to team-hook");
    const { req, msg } = (await waitMessage(runId, "stage.notify"))[0]!;
    assert.equal(tell.outputs?.values.message_ids, req.headers["webhook-id"], "the output names the delivered message");
    assert.equal(tell.outputs?.values.channels, "team-hook");
    assert.equal(msg.data.subject, "ns-stage #1: tell says v7");
    assert.match(
      msg.data.body,
      /^status running; tag v7; token \*\*\* \/ \*\*\*; http:\/\/127\.0\.0\.1:\d+\/api\/v1\/runs\//,
    );
    assert.equal(msg.data.stage?.name, "tell");
    assert.equal(messagesOf(runId).length, 1, "one message");
  });

  it("a notify stage naming a channel that does not exist is refused at submit, saying which stage names it", async () => {
    await assert.rejects(
      submit(farm.client, "name: ns-bad\nstages:\n  tell: { type: notify, channels: [team-hook, nope] }\n"),
      /notify: channel 'nope' does not exist \(named by stage 'tell'\); create with: dockyard channels add/,
    );
    await assert.rejects(
      submit(farm.client, "name: ns-bad\nstages:\n  tell: { type: notify, channels: [team-hook], retry: 1 }\n"),
      /'retry' is not allowed on a notify stage/,
    );
  });

  it("an approval's waiting and approved events reach notify: rules with the stage and the decider", async () => {
    const runId = await submit(
      farm.client,
      `
name: ns-approve
notify:
  - on: [waiting, approved]
    channels: [team-hook]
stages:
  gate: { type: approval, approvers: [alice], timeout: 1h }
`,
    );
    await waitingReasonOf(farm, runId);
    const [waiting] = await waitMessage(runId, "run.waiting");
    assert.equal(waiting!.msg.data.subject, "[dockyard] ns-approve #1 waiting");
    assert.equal(waiting!.msg.data.stage?.name, "gate");
    assert.match(
      waiting!.msg.data.body,
      /Stage gate: waiting for approval by alice until .*; decide with: dockyard approve ns-approve#1 gate\./,
    );
    assert.equal(waiting!.msg.data.approval?.approvers, "alice");
    await alice.client.decideApproval({ runId, stage: "gate", approve: true, comment: "ship it" });
    const [approved] = await waitMessage(runId, "run.approved");
    assert.equal(approved!.msg.data.subject, "[dockyard] ns-approve #1 approved");
    assert.match(approved!.msg.data.body, /Stage gate: approved by alice via \w+: ship it\./);
    assert.equal(approved!.msg.data.approval?.by, "alice");
    assert.equal(approved!.msg.data.approval?.comment, "ship it");
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    assert.deepEqual(
      messagesOf(runId).map((m) => m.msg.type),
      ["run.waiting", "run.approved"],
      "the run's success has no rule: nothing more",
    );
  });

  it("a reminder arrives before the deadline saying the time left; a deadline that approves sends approved by timeout", async () => {
    const runId = await submit(
      farm.client,
      `
name: ns-remind
notify:
  - on: [waiting, approved, rejected]
    channels: [team-hook]
    subject: "{{ run.name }} {{ status }} at {{ stage.name }}"
stages:
  gate: { type: approval, approvers: [alice], timeout: 5s, reminder: 4s, on_timeout: approve }
`,
    );
    await waitingReasonOf(farm, runId);
    const deadline = await deadlineOf(farm, runId);
    const [, reminder] = await waitMessage(runId, "run.waiting", 2);
    assert.match(reminder!.msg.data.subject, /^Reminder \([34]s left\): ns-remind waiting at gate$/);
    assert.equal(reminder!.msg.data.approval?.reminder, "true");
    assert.ok(reminder!.req.at < deadline, `the reminder arrived ${reminder!.req.at - deadline} ms after the deadline`);
    const [approved] = await waitMessage(runId, "run.approved");
    assert.equal(approved!.msg.data.approval?.by, "timeout");
    assert.match(approved!.msg.data.body, /Stage gate: approved at its deadline/);
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    assert.equal(messagesOf(runId).filter((m) => m.msg.type === "run.rejected").length, 0);
  });

  it("no message carries a secret value (it was in an output the templates read)", () => {
    assert.ok(hook.received.length >= 6, "the messages above were seen");
    for (const r of hook.received)
      assert.ok(!r.body.includes(secretValue) && !JSON.stringify(r.headers).includes(secretValue));
  });
});
