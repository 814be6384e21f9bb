// The attempt protocol seen from a hand-driven agent: a signed wake-up, the
// assignment fetched over gRPC, the lease checked on every write, ordered log
// chunks, stale writes counted; and a real agent that ignores notices not
// signed by the server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  create,
  generateKeyPair,
  publicKeyFromRaw,
  signNotice,
  AttemptReportSchema,
  NOTICE_TTL_MS,
  type AttemptCommand,
  type AttemptReport,
  type Assignment,
  type NoticeBody,
} from "@dockyard/proto";
import { NoticeListener, type AgentClient } from "@dockyard/agent";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { startFarm, handAgent, submit, waitFor, testLog, NATS_URL, type Farm } from "../index";

type Stream = ClientDuplexStream<AttemptReport, AttemptCommand>;

/** Send reports and collect the server's replies on one attempt stream. */
function open(client: AgentClient) {
  const stream: Stream = client.attemptStream();
  const replies: AttemptCommand[] = [];
  let ended = false;
  stream.on("data", (c: AttemptCommand) => replies.push(c));
  stream.on("end", () => (ended = true));
  stream.on("error", () => (ended = true));
  return {
    send(a: Assignment, body: AttemptReport["body"] | Record<string, unknown>, lease = a.leaseId) {
      stream.write(create(AttemptReportSchema, { attemptId: a.attemptId, leaseId: lease, body: body as never }));
    },
    replies,
    async next(n: number) {
      await waitFor(() => replies.length >= n || ended, { message: `${n} replies` });
      return replies[n - 1];
    },
    end: () => stream.end(),
  };
}

const text = (c: AttemptCommand | undefined) =>
  c?.body.case === "rejected" || c?.body.case === "retry" ? c.body.value.message : "";

/** Sum of a counter over its labels in the /metrics text (the test farm serves /metrics without a token). */
async function counter(farm: Farm, name: string, labels = ""): Promise<number> {
  const metrics = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
  const re = new RegExp(`^${name}\\{[^}]*${labels}[^}]*\\} (\\d+)`, "gm");
  return [...metrics.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
}

describe("agent protocol", { timeout: 120_000 }, () => {
  let farm: Farm;
  let nc: NatsConnection;
  before(async () => {
    farm = await startFarm();
    nc = await connect({ servers: NATS_URL });
  });
  after(async () => {
    await nc?.drain();
    await farm?.stop();
  });

  it("checks the lease on every write, keeps chunks in order and counts stale writes", async () => {
    const { client, accepted } = await handAgent(farm, "hand");
    // The key that signs notices is learnt at registration, over the pinned TLS connection.
    assert.deepEqual(Buffer.from(accepted.serverSigningKey), Buffer.from(farm.server.pki.signingKey.publicRaw));
    const woken: string[] = [];
    const notices = new NoticeListener(nc, farm.prefix, testLog());
    const serverKey = publicKeyFromRaw(accepted.serverSigningKey);
    notices.listen(accepted.agentId, () => serverKey, {
      onAssign: (id) => woken.push(id),
      onCancel: () => undefined,
      onRunEnded: () => undefined,
    });
    await nc.flush();
    const staleBefore = await counter(farm, "dockyard_stale_writes_total");

    const runId = await submit(
      farm.client,
      "name: hand\nstages:\n  s: { executor: shell, command: 'true', agent: { hand: 'hand' } }\n",
    );
    // A wake-up names only the attempt; the assignment itself comes over gRPC.
    const attemptId = await waitFor(() => woken[0], { message: "a signed wake-up over NATS" });
    const { assignment: a } = await client.getAssignment({ attemptId });
    assert.ok(a);
    assert.equal(a.attemptId, attemptId);
    assert.equal(a.runId, runId);
    assert.equal(a.spec?.kind.case, "command");
    assert.deepEqual(a.spec?.kind.case === "command" && a.spec.kind.value.commands, ["true"]);
    assert.equal(notices.refused, 0);
    // The same assignment is also available by polling (a lost NATS message only delays).
    const polled = await client.pollAssignments({});
    assert.deepEqual(
      polled.assignments.map((x) => x.attemptId),
      [a.attemptId],
    );

    // One stream carries every attempt of an agent; one attempt's trouble is answered on it alone.
    const s = open(client);
    // A report before `open` is answered with `retry` (reopen, then resend), not acted on.
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("early\n"), stream: 1 } });
    const retry = await s.next(1);
    assert.equal(retry?.body.case, "retry");
    assert.equal(retry?.attemptId, a.attemptId);
    assert.match(text(retry), /not open on this stream: send 'open' first/);
    // A wrong lease is rejected and counted, and the stream stays open.
    s.send(a, { case: "open", value: {} }, "00000000-0000-0000-0000-000000000000");
    const rej = await s.next(2);
    assert.equal(rej?.body.case, "rejected");
    assert.match(text(rej), /stale lease for attempt .*: lease was replaced/);

    // The right lease on the same stream: started, chunks 1 and 2, then a gap (4) is refused.
    s.send(a, { case: "open", value: {} });
    assert.equal((await s.next(3))?.body.case, "ack");
    s.send(a, { case: "started", value: {} });
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("one\n"), stream: 1 } });
    s.send(a, { case: "log", value: { seq: 2n, data: Buffer.from("two\n"), stream: 1 } });
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("dup\n"), stream: 1 } }); // replay: ignored
    await waitFor(() => s.replies.some((r) => r.body.case === "ack" && r.body.value.logSeq === 2n), {
      message: "ack of seq 2",
    });
    // The start wrote the lease: its ack says until when, so the agent needs no renewal of its own.
    const startAcks = () =>
      s.replies.flatMap((r) => (r.body.case === "ack" && r.body.value.started ? [r.body.value] : []));
    const leased = await farm.pg.query<{ ms: string }>(
      "SELECT (extract(epoch FROM lease_expires_at) * 1000)::bigint AS ms FROM attempts WHERE id = $1",
      [a.attemptId],
    );
    assert.equal(startAcks()[0]?.leaseExpiresAtMs, BigInt(leased.rows[0]!.ms));
    // A `started` again (a resend after a lost ack) changes nothing, so its ack renews nothing.
    s.send(a, { case: "started", value: {} });
    await waitFor(() => startAcks().length === 2, { message: "the second start's ack" });
    assert.equal(startAcks()[1]?.leaseExpiresAtMs, 0n);
    s.send(a, { case: "log", value: { seq: 4n, data: Buffer.from("gap\n"), stream: 1 } });
    const gap = await waitFor(() => s.replies.find((r) => r.body.case === "rejected" && r !== rej), {
      message: "gap rejected",
    });
    assert.match(text(gap), /log chunk 4 of attempt .* arrived, expected 3/);
    const logs = await farm.pg.query(
      "SELECT chunk_seq::int, convert_from(data, 'UTF8') AS text FROM run_events WHERE run_id = $1 AND kind = 'log' ORDER BY seq",
      [runId],
    );
    assert.deepEqual(logs.rows, [
      { chunk_seq: 1, text: "one\n" },
      { chunk_seq: 2, text: "two\n" },
    ]);

    // This agent sends no heartbeats or renewals: the attempt ends as lost (the agent is declared
    // lost, or the lease runs out, whichever comes first) and the old lease's writes are then stale.
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT 1 FROM attempts WHERE id = $1 AND state = 'lost'", [a.attemptId])).rowCount,
      {
        timeoutMs: 15_000,
        message: "lease expiry",
      },
    );
    const late = open(client);
    late.send(a, { case: "open", value: {} });
    const lateReply = await late.next(1);
    assert.equal(lateReply?.body.case, "rejected");
    assert.match(text(lateReply), /already ended as lost/);
    // The wrong-lease open and the late open.
    assert.equal((await counter(farm, "dockyard_stale_writes_total")) - staleBefore, 2);
    s.end();
    late.end();
    notices.close();
    client.close();
  });

  it("acts only on notices signed by the server, for this agent, fresh and new", async () => {
    const agent = await farm.startAgent({ name: "guarded", executor: "shell", labels: { guard: "yes" } });
    const runId = await submit(
      farm.client,
      "name: guarded\nstages:\n  s: { executor: shell, command: 'sleep 30', agent: { guard: 'yes' }, retry: 0 }\n",
    );
    const attemptId = await waitFor(
      async () =>
        (
          await farm.pg.query<{ id: string }>("SELECT id FROM attempts WHERE run_id = $1 AND state = 'running'", [
            runId,
          ])
        ).rows[0]?.id,
      { message: "the stage running on the guarded agent" },
    );
    await waitFor(() => agent.running === 1, { message: "the agent's runner" });

    const serverKey = farm.server.pki.signingKey.privateKey;
    const cancel: NoticeBody = { case: "cancel", value: { attemptId, reason: "forged cancel" } };
    const subject = `${farm.prefix}.agent.${agent.agentId}.cancel`;
    const forgeries = [
      Buffer.from("not a protobuf at all"), // not a Signed message
      signNotice(generateKeyPair().privateKey, agent.agentId, cancel), // another key
      signNotice(serverKey, randomUUID(), cancel), // genuine, but for another agent
      signNotice(serverKey, agent.agentId, cancel, Date.now() - NOTICE_TTL_MS - 1000), // genuine, expired
      signNotice(serverKey, agent.agentId, { case: "assign", value: { attemptId } }), // genuine, wrong kind for the subject
    ];
    const refusedBefore = agent.refusedNotices;
    for (const f of forgeries) nc.publish(subject, f);
    await nc.flush();
    await waitFor(() => agent.refusedNotices >= refusedBefore + forgeries.length, { message: "every forgery refused" });
    assert.equal(agent.refusedNotices, refusedBefore + forgeries.length);
    // None of them acted: the attempt still runs.
    assert.equal(agent.running, 1);
    const still = await farm.pg.query("SELECT state FROM attempts WHERE id = $1", [attemptId]);
    assert.equal(still.rows[0]?.state, "running");

    // Positive control: the same cancel signed by the server stops the attempt; sent again, it is a replay.
    const genuine = signNotice(serverKey, agent.agentId, {
      case: "cancel",
      value: { attemptId, reason: "genuine cancel" },
    });
    nc.publish(subject, genuine);
    nc.publish(subject, genuine);
    await nc.flush();
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT 1 FROM attempts WHERE id = $1 AND state = 'canceled'", [attemptId])).rowCount,
      {
        message: "the genuine cancel to end the attempt",
      },
    );
    await waitFor(() => agent.refusedNotices === refusedBefore + forgeries.length + 1, {
      message: "the replayed cancel refused",
    });
    await waitFor(() => agent.running === 0, { message: "the runner to stop" });
  });
});
