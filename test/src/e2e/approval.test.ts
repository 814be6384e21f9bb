// The approval stage on a real farm: it waits and says so (who may decide, until when,
// how); a listed user approves (CLI path, gRPC) or rejects (HTTP path) and the decision
// is recorded (who, via, comment) and binds to its run only; others are refused naming who
// may; forbid_self refuses the run's starter; each on_timeout fires within a second of
// its deadline; a reminder comes before it; a cancel ends the wait.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { status } from "@grpc/grpc-js";
import {
  approvalEvents,
  deadlineOf,
  dockyardCli,
  dockyardProcess,
  projectDir,
  stageRow,
  startFarm,
  submit,
  userClient,
  waitForRun,
  waitFor,
  waitForStage,
  waitingReasonOf,
  type Farm,
  type UserClient,
} from "../index";

const pipeline = (name: string, gate: string) =>
  [
    `name: ${name}`,
    "stages:",
    `  gate: { type: approval, ${gate} }`,
    '  ship: { executor: shell, command: "echo shipped", needs: [gate] }',
    "",
  ].join("\n");

describe("approval stages", () => {
  let farm: Farm;
  let alice: UserClient;
  let bob: UserClient;
  let carol: UserClient;
  before(async () => {
    farm = await startFarm();
    await farm.startAgent({ name: "ap-shell", executor: "shell", capacity: 4 });
    alice = await userClient(farm, "alice");
    bob = await userClient(farm, "bob");
    carol = await userClient(farm, "carol");
  });
  after(async () => {
    for (const u of [alice, bob, carol]) u?.client.close();
    await farm?.stop();
  });

  it("waits saying who may decide until when; a disallowed user is refused naming who may; a listed one approves; another run is not moved", async () => {
    const yaml = pipeline(
      "ap-ok",
      'approvers: [alice, "role:admin"], timeout: 1h, instructions: "ship ${{ DOCKYARD_PIPELINE }}?"',
    );
    const runId = await submit(carol.client, yaml);
    const other = await submit(carol.client, yaml);
    const reason = await waitingReasonOf(farm, runId);
    assert.match(
      reason,
      /^waiting for approval by alice or role admin until (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(in (59m|1h)\); decide with: dockyard approve ap-ok#1 gate$/,
    );
    const { run } = await carol.client.getRun({ runId });
    assert.equal(run!.stages.find((s) => s.name === "gate")!.reason, reason, "the API shows the waiting reason");
    assert.equal(run!.state, "running", "a run waiting at its first stage is running");
    // bob is not listed (an operator and approver, not admin).
    await assert.rejects(
      alice.client
        .getRun({ runId })
        .then(() => bob.client.decideApproval({ runId, stage: "gate", approve: true, comment: "" })),
      (err: { code: number; details: string }) => {
        assert.equal(err.code, status.PERMISSION_DENIED);
        assert.equal(
          err.details,
          "bob may not decide approval 'gate' of run ap-ok#1: approvers of 'gate' are alice or role admin",
        );
        return true;
      },
    );
    assert.equal((await stageRow(farm, runId, "gate")).state, "running", "the refusal moved nothing");
    const decided = await alice.client.decideApproval({ runId, stage: "gate", approve: true, comment: "looks good" });
    assert.equal(decided.run!.stages.find((s) => s.name === "gate")!.state, "succeeded");
    const done = await waitForRun(carol.client, runId);
    assert.equal(done.state, "succeeded");
    const gate = await stageRow(farm, runId, "gate");
    assert.equal(gate.reason, "approved by alice via cli: looks good");
    assert.deepEqual(gate.outputs, {
      values: { decision: "approved", decided_by: "alice", via: "cli", comment: "looks good" },
    });
    const events = await approvalEvents(carol.client, runId);
    assert.deepEqual(
      events.map((e) => [e.action, e.by, e.via, e.comment]),
      [
        ["waiting", "", "", ""],
        ["approved", "alice", "cli", "looks good"],
      ],
    );
    assert.equal(events[0]!.reason, reason);
    // The decision is in the audit log (and the refused one is not).
    const audited = await farm.pg.query(
      "SELECT actor, action, details->>'via' AS via FROM audit_log WHERE target = $1",
      [`${runId}/gate`],
    );
    assert.deepEqual(audited.rows, [{ actor: "alice", action: "approval.approved", via: "cli" }]);
    // The decision bound to its run: the other run of the same pipeline still waits.
    assert.equal((await stageRow(farm, other, "gate")).state, "running");
    await assert.rejects(
      alice.client.decideApproval({ runId, stage: "gate", approve: true, comment: "" }),
      (err: { code: number; details: string }) => {
        assert.equal(err.code, status.FAILED_PRECONDITION);
        assert.match(err.details, /^stage 'gate' is not waiting for a decision: it is succeeded/);
        return true;
      },
    );
    await carol.client.cancelRun({ runId: other });
  });

  it("the CLI: run --watch shows the wait; a non-approver's dockyard approve fails naming who may; an approver's decides", async () => {
    const dir = projectDir({ "dockyard.yml": pipeline("ap-cli", "approvers: [alice], timeout: 1h") });
    const watch = dockyardProcess(farm, ["run", path.join(dir, "dockyard.yml"), "--watch"]);
    await waitFor(() => watch.out().includes("waiting for approval by alice until"), {
      message: "the watch to show the wait",
      timeoutMs: 20_000,
    });
    assert.match(
      watch.out(),
      /gate {2}running {2}\(attempt 1 on server\) {2}\(waiting for approval by alice until (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC \(in (59m|1h)\); decide with: dockyard approve ap-cli#1 gate\)/,
    );
    const runs = await dockyardCli(farm, ["runs"]);
    assert.match(
      runs.stdout,
      / gate: waiting for approval by alice until /,
      "dockyard runs lists the waiting approval",
    );
    const refused = await dockyardCli(farm, ["approve", "ap-cli#1", "gate"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /admin may not decide approval 'gate' of run ap-cli#1: approvers of 'gate' are alice/);
    const ok = await dockyardCli(farm, ["approve", "ap-cli#1", "gate", "--comment", "ship it"], undefined, {
      DOCKYARD_TOKEN: alice.token,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^stage gate of run \S+ succeeded \(approved by alice via cli: ship it\)\n$/);
    const watched = await watch.done;
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /gate {2}approved by alice via cli {2}\(ship it\)/);
  });

  it("rejects over HTTP with a comment: the stage fails with the rejection as its reason and its dependent is skipped", async () => {
    const runId = await submit(carol.client, pipeline("ap-rej", "approvers: [alice, bob], timeout: 1h"));
    await waitingReasonOf(farm, runId);
    const http = (token: string, body: string) =>
      fetch(`${farm.server.httpUrl}/api/v1/runs/${runId}/stages/gate/reject`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body,
      });
    const refused = await http(carol.token, "");
    assert.equal(refused.status, 403);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /approvers of 'gate' are alice or bob/,
    );
    const bad = await http(bob.token, '{"comment": 5}');
    assert.equal(bad.status, 400);
    const res = await http(bob.token, JSON.stringify({ comment: "not on a Friday" }));
    assert.equal(res.status, 200, await res.clone().text());
    const run = await waitForRun(carol.client, runId);
    assert.equal(run.state, "failed");
    const gate = await stageRow(farm, runId, "gate");
    assert.equal(gate.state, "failed");
    assert.equal(gate.reason, "rejected by bob via http: not on a Friday");
    assert.equal((await stageRow(farm, runId, "ship")).state, "skipped");
  });

  it("forbid_self: the user who started the run may not decide; another listed approver may", async () => {
    const runId = await submit(
      alice.client,
      pipeline("ap-self", "approvers: [alice, bob], timeout: 1h, forbid_self: true"),
    );
    await waitingReasonOf(farm, runId);
    await assert.rejects(
      alice.client.decideApproval({ runId, stage: "gate", approve: true, comment: "" }),
      (err: { code: number; details: string }) => {
        assert.equal(err.code, status.PERMISSION_DENIED);
        assert.match(
          err.details,
          /^alice started run ap-self#1 and may not decide its approval 'gate' \(forbid_self\)/,
        );
        return true;
      },
    );
    await bob.client.decideApproval({ runId, stage: "gate", approve: true, comment: "" });
    assert.equal((await waitForRun(carol.client, runId)).state, "succeeded");
    // A run submitted over HTTP records its starter too.
    const res = await fetch(`${farm.server.httpUrl}/api/v1/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.token}` },
      body: pipeline("ap-self-http", "approvers: [alice], timeout: 1h, forbid_self: true"),
    });
    assert.equal(res.status, 201);
    const viaHttp = ((await res.json()) as { run: { id: string } }).run.id;
    await waitingReasonOf(farm, viaHttp);
    await assert.rejects(
      alice.client.decideApproval({ runId: viaHttp, stage: "gate", approve: true, comment: "" }),
      /forbid_self/,
    );
    await carol.client.cancelRun({ runId: viaHttp });
  });

  for (const [onTimeout, gateState, runState, shipState] of [
    ["reject", "failed", "failed", "skipped"],
    ["approve", "succeeded", "succeeded", "succeeded"],
    // A skip is not a failure: its dependent (without if_skipped: continue) is skipped, the run succeeds.
    ["skip", "skipped", "succeeded", "skipped"],
  ] as const) {
    it(`on_timeout: ${onTimeout} ends the stage ${gateState} within a second of its deadline`, async () => {
      const runId = await submit(
        carol.client,
        pipeline(`ap-to-${onTimeout}`, `approvers: [alice], timeout: 2s, on_timeout: ${onTimeout}`),
      );
      await waitingReasonOf(farm, runId);
      const deadline = await deadlineOf(farm, runId);
      const gate = await waitForStage(farm, runId, "gate", gateState, 5000);
      const late = gate.finished_at!.getTime() - deadline;
      assert.ok(late >= 0 && late < 1000, `ended ${late} ms after its deadline`);
      assert.match(
        gate.reason!,
        new RegExp(`^no decision by (\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d UTC: \\w+ \\(on_timeout: ${onTimeout}\\)$`),
      );
      const run = await waitForRun(carol.client, runId);
      assert.equal(run.state, runState);
      assert.equal((await stageRow(farm, runId, "ship")).state, shipState);
      const actions = (await approvalEvents(carol.client, runId)).map((e) => [e.action, e.onTimeout]);
      assert.deepEqual(actions, [
        ["waiting", ""],
        ["timed_out", onTimeout],
      ]);
    });
  }

  it("on_timeout: skip lets a dependent with if_skipped: continue run (reading decision: skipped); one without it is skipped; the run succeeds", async () => {
    const yaml = [
      "name: ap-continue",
      "stages:",
      "  gate: { type: approval, approvers: [alice], timeout: 2s, on_timeout: skip }",
      '  announce: { executor: shell, command: "echo decision=${{ stages.gate.outputs.decision }}", needs: [{ stage: gate, if_skipped: continue }] }',
      '  ship: { executor: shell, command: "echo shipped", needs: [gate] }',
      '  after: { executor: shell, command: "echo after", needs: [{ stage: ship }, announce] }',
      "",
    ].join("\n");
    const runId = await submit(carol.client, yaml);
    await waitingReasonOf(farm, runId);
    const run = await waitForRun(carol.client, runId, 15_000);
    const states = Object.fromEntries(run.stages.map((s) => [s.name, [s.state, s.reason]]));
    assert.deepEqual(states, {
      gate: ["skipped", states.gate![1]],
      announce: ["succeeded", ""],
      ship: ["skipped", "a needed stage was skipped"],
      after: ["skipped", "a needed stage was skipped"],
    });
    assert.equal(run.state, "succeeded", "a skip on purpose fails nothing");
    const gate = await stageRow(farm, runId, "gate");
    assert.deepEqual(gate.outputs, {
      values: { decision: "skipped", decided_by: "timeout", via: "timeout", comment: "" },
    });
    const logs = await dockyardCli(farm, ["logs", runId, "announce"]);
    assert.match(logs.stdout, /decision=skipped/);
  });

  it("if_skipped: continue does not pass a stage skipped because its own need failed: that failure still fails the run", async () => {
    const yaml = [
      "name: ap-continue-fail",
      "stages:",
      '  build: { executor: shell, command: "exit 3" }',
      "  gate: { type: approval, needs: [build], approvers: [alice], timeout: 1h, on_timeout: skip }",
      '  announce: { executor: shell, command: "echo never", needs: [{ stage: gate, if_skipped: continue }] }',
      "",
    ].join("\n");
    const runId = await submit(carol.client, yaml);
    const run = await waitForRun(carol.client, runId, 15_000);
    assert.deepEqual(
      run.stages.map((s) => [s.name, s.state, s.reason]),
      [
        ["build", "failed", run.stages[0]!.reason],
        ["gate", "skipped", "a needed stage did not succeed"],
        ["announce", "skipped", "a needed stage did not succeed"],
      ],
    );
    assert.equal(run.state, "failed");
  });

  it("a bad needs entry is refused at submit, naming its path", async () => {
    const bad = (needs: string) =>
      `name: ap-bad-needs\nstages:\n  gate: { type: approval, approvers: [alice], timeout: 1h, on_timeout: skip }\n  ship: { executor: shell, command: "true", needs: ${needs} }\n`;
    const refusal = async (needs: string): Promise<string> => {
      const err = (await submit(carol.client, bad(needs)).then(
        () => assert.fail(`needs: ${needs} was accepted`),
        (e: unknown) => e,
      )) as { code: number; details: string };
      assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
      return err.details;
    };
    assert.match(
      await refusal("[{ stage: gaet, if_skipped: continue }]"),
      /stages\.ship\.needs\[0\]\.stage: unknown stage 'gaet' \(did you mean 'gate'\?\)/,
    );
    assert.match(
      await refusal("[{ stage: gate, if_skipped: always }]"),
      /stages\.ship\.needs\[0\]\.if_skipped: if_skipped must be skip or continue, got "always"/,
    );
    assert.match(await refusal("[{ stage: gate, when: skipped }]"), /stages\.ship\.needs\[0\]: unknown key 'when'/);
  });

  it("a reminder event comes `reminder` before the deadline, and the deadline after it", async () => {
    const runId = await submit(carol.client, pipeline("ap-remind", "approvers: [alice], timeout: 3s, reminder: 2s"));
    await waitingReasonOf(farm, runId);
    const deadline = await deadlineOf(farm, runId);
    await waitForStage(farm, runId, "gate", "failed", 6000);
    const { rows } = await farm.pg.query<{ action: string; at: Date }>(
      `SELECT payload->>'action' AS action, at FROM run_events WHERE run_id = $1 AND kind = 'approval' ORDER BY seq`,
      [runId],
    );
    assert.deepEqual(
      rows.map((r) => r.action),
      ["waiting", "reminder", "timed_out"],
    );
    const reminderLate = rows[1]!.at.getTime() - (deadline - 2000);
    assert.ok(reminderLate >= 0 && reminderLate < 1000, `reminder ${reminderLate} ms late`);
  });

  it("a canceled run ends its waiting approval (canceled event; no decision or deadline moves it after)", async () => {
    const runId = await submit(carol.client, pipeline("ap-cancel", "approvers: [alice], timeout: 2s"));
    await waitingReasonOf(farm, runId);
    const deadline = await deadlineOf(farm, runId);
    await carol.client.cancelRun({ runId });
    assert.equal((await stageRow(farm, runId, "gate")).state, "canceled");
    await assert.rejects(
      alice.client.decideApproval({ runId, stage: "gate", approve: true, comment: "" }),
      /not waiting for a decision: it is canceled/,
    );
    // The deadline passes: the stage stays canceled.
    const timers = async () =>
      Number(
        (
          await farm.pg.query(
            `SELECT count(*) FROM server_timers t JOIN attempts a ON a.id = t.attempt_id WHERE a.run_id = $1`,
            [runId],
          )
        ).rows[0].count,
      );
    assert.equal(await timers(), 0, "the cancel dropped the deadline's timer");
    await waitFor(() => Date.now() > deadline + 500, { message: "the deadline to pass", timeoutMs: 5000 });
    assert.equal((await stageRow(farm, runId, "gate")).state, "canceled");
    const actions = (await approvalEvents(carol.client, runId)).map((e) => e.action);
    assert.deepEqual(actions, ["waiting", "canceled"]);
  });
});
