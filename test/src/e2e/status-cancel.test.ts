// Honest status when a run is canceled, as a user sees it through the real `dockyard` binary
// and the HTTP API: a finished run cannot be canceled (and nothing changes), canceled
// attempts are counted as ended, and the agent's late reports of a canceled attempt are
// answered (cancel, then acks) and are not stale writes, on an open stream and a new one.
// The rest of the honest-status tests (attempts, logs, queries, names) are in status.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type Docker from "dockerode";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { create, AttemptReportSchema, type AttemptCommand, type AttemptReport, type Assignment } from "@dockyard/proto";
import type { AgentClient } from "@dockyard/agent";
import type { RunJson } from "@dockyard/cli";
import {
  startFarm,
  handAgent,
  submit,
  waitFor,
  waitForRun,
  runningAttempt,
  testDocker,
  attemptContainers,
  type Farm,
} from "../index";
import { dockyard, http } from "../helpers/status-cli";

/** Sum of a counter over the label sets matching `labels` in the /metrics text (open in the test farm). */
async function counter(farm: Farm, name: string, labels = ""): Promise<number> {
  const metrics = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
  const re = new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\d+)`, "gm");
  return [...metrics.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
}

/** What the database holds about a run: compared before and after a refused cancel. */
async function snapshot(farm: Farm, runId: string) {
  const q = async (text: string) => (await farm.pg.query(text, [runId])).rows;
  return {
    run: await q("SELECT state, finished_at, last_event_seq FROM runs WHERE id = $1"),
    stages: await q(
      "SELECT name, state, reason, exit_code, finished_at FROM stages WHERE run_id = $1 ORDER BY position",
    ),
    attempts: await q("SELECT number, state, reason, finished_at FROM attempts WHERE run_id = $1 ORDER BY number"),
    events: await q("SELECT count(*)::int AS n FROM run_events WHERE run_id = $1"),
  };
}

describe("honest status", { timeout: 300_000 }, () => {
  let farm: Farm;
  let docker: Docker;
  before(async () => {
    docker = await testDocker();
    farm = await startFarm({ agents: [{ name: "st-main", capacity: 4 }] });
  });
  after(async () => farm?.stop());

  it("a finished run cannot be canceled: exit 1 / HTTP 409 naming its state, and nothing changes", async () => {
    const runId = await submit(
      farm.client,
      "name: done\nstages:\n  s: { image: dockyard/busybox:1, command: 'echo ok' }\n",
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "succeeded");
    const before = await snapshot(farm, runId);

    const cli = await dockyard(farm, ["cancel", runId]);
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr, `error: run ${runId} already finished: succeeded\n`);
    assert.equal(cli.stdout, "");
    const api = await http(farm, "POST", `/runs/${runId}/cancel`);
    assert.equal(api.status, 409);
    assert.deepEqual(api.json, { error: { code: "conflict", message: `run ${runId} already finished: succeeded` } });

    assert.deepEqual(await snapshot(farm, runId), before);
    const shown = JSON.parse((await dockyard(farm, ["runs", "--json"])).stdout) as RunJson[];
    assert.equal(shown.find((r) => r.id === runId)?.state, "succeeded");
  });

  it("canceling a running run counts its attempt as ended (canceled), and the agent's late reports are not stale writes", async () => {
    // The trap prints after the cancel reached the container: that output and the agent's
    // `finished` arrive after the attempt was canceled in the database.
    const runId = await submit(
      farm.client,
      `
name: cancel-me
stages:
  s:
    image: dockyard/busybox:1
    command: "trap 'echo bye; exit 0' TERM; while true; do echo tick; sleep 0.1; done"
`,
    );
    const attemptId = await runningAttempt(farm, runId, { minLogSeq: 1 });
    const staleBefore = await counter(farm, "dockyard_stale_writes_total");
    const canceledBefore = await counter(farm, "dockyard_attempts_ended_total", 'outcome="canceled"');

    const r = await dockyard(farm, ["cancel", runId]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `run ${runId} canceled\n`);
    assert.equal(await counter(farm, "dockyard_attempts_ended_total", 'outcome="canceled"'), canceledBefore + 1);
    // The agent reports the end, the server acknowledges it, and the runner removes the container.
    await waitFor(
      async () => (await attemptContainers(docker, attemptId)).length === 0 && farm.agents[0]!.running === 0,
      {
        timeoutMs: 30_000,
        message: "the agent to finish the canceled attempt",
      },
    );
    assert.equal(
      await counter(farm, "dockyard_stale_writes_total"),
      staleBefore,
      "late reports of a canceled attempt are not stale",
    );
    const attempt = await farm.pg.query("SELECT state, reason FROM attempts WHERE id = $1", [attemptId]);
    assert.deepEqual(attempt.rows, [{ state: "canceled", reason: "canceled by user" }]);
  });

  it("a canceled attempt's reports are answered (cancel, then acks), on an open stream and a new one", async () => {
    const { client } = await handAgent(farm, "st-hand");
    const runId = await submit(
      farm.client,
      "name: hand\nstages:\n  s: { executor: shell, command: 'true', agent: { hand: st-hand }, retry: 0 }\n",
    );
    const a = await waitFor(async () => (await client.pollAssignments({})).assignments[0], {
      message: "the hand agent's assignment",
    });
    const s = openStream(client);
    s.send(a, { case: "open", value: {} });
    s.send(a, { case: "started", value: {} });
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("before\n"), stream: 1 } });
    await waitFor(() => s.replies.some((c) => c.body.case === "ack" && c.body.value.logSeq === 1n), {
      message: "chunk 1 persisted",
    });
    const staleBefore = await counter(farm, "dockyard_stale_writes_total");

    assert.equal((await dockyard(farm, ["cancel", runId])).code, 0);
    const seen = s.replies.length;
    s.send(a, { case: "log", value: { seq: 2n, data: Buffer.from("after the cancel\n"), stream: 1 } });
    s.send(a, { case: "renew", value: {} });
    s.send(a, { case: "finished", value: { outcome: "canceled", exitCode: -1, message: "canceled", lastLogSeq: 2n } });
    await waitFor(() => s.replies.some((c) => c.body.case === "ack" && c.body.value.finished), {
      message: "the end acknowledged",
    });
    const answers = s.replies
      .slice(seen)
      .map((c) =>
        c.body.case === "ack" ? `ack ${c.body.value.logSeq}${c.body.value.finished ? " finished" : ""}` : c.body.case,
      );
    assert.deepEqual(answers, ["cancel", "ack 2", "ack 2", "ack 2 finished"]);
    assert.equal(s.replies[seen]?.body.case === "cancel" ? s.replies[seen]!.body.value.reason : "", "canceled by user");

    // A new stream for the same attempt (an agent replaying its spool after a restart) is answered the same way.
    const again = openStream(client);
    again.send(a, { case: "open", value: {} });
    again.send(a, {
      case: "finished",
      value: { outcome: "canceled", exitCode: -1, message: "canceled", lastLogSeq: 2n },
    });
    await waitFor(() => again.replies.some((c) => c.body.case === "ack" && c.body.value.finished), {
      message: "the replayed end acknowledged",
    });
    assert.deepEqual(
      again.replies.map((c) => c.body.case),
      ["cancel", "ack", "ack"],
    );

    assert.equal(await counter(farm, "dockyard_stale_writes_total"), staleBefore);
    const logs = await farm.pg.query(
      "SELECT convert_from(data, 'UTF8') AS text FROM run_events WHERE run_id = $1 AND kind = 'log' ORDER BY seq",
      [runId],
    );
    assert.deepEqual(logs.rows, [{ text: "before\n" }], "output after the cancel is dropped");
    s.end();
    again.end();
    client.close();
  });
});

type Stream = ClientDuplexStream<AttemptReport, AttemptCommand>;

/** One AttemptStream: send reports, collect the server's answers. */
function openStream(client: AgentClient) {
  const stream: Stream = client.attemptStream();
  const replies: AttemptCommand[] = [];
  stream.on("data", (c: AttemptCommand) => replies.push(c));
  stream.on("error", () => undefined);
  return {
    send(a: Assignment, body: AttemptReport["body"] | Record<string, unknown>) {
      stream.write(create(AttemptReportSchema, { attemptId: a.attemptId, leaseId: a.leaseId, body: body as never }));
    },
    replies,
    end: () => stream.end(),
  };
}
