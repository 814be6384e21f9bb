// The agent protocol seen from a hand-driven agent: join tokens, sessions,
// leases on every write, ordered log chunks, stale writes counted.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  create, fromBinary, toBinary, AssignmentSchema, AttemptReportSchema, sessionKey, signPayload, verifyPayload,
  type AttemptCommand, type AttemptReport, type Assignment,
} from "@dockyard/proto";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { NatsSession, RegistrationRefusedError, createAgentClient, type AgentClient } from "@dockyard/agent";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { startFarm, submit, waitFor, testLog, NATS_URL, type Farm } from "../index";

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

describe("agent protocol", () => {
  let farm: Farm;
  let nc: NatsConnection;
  let session: NatsSession;
  before(async () => {
    farm = await startFarm();
    nc = await connect({ servers: NATS_URL });
    session = new NatsSession(nc, farm.prefix, testLog());
  });
  after(async () => {
    await nc?.drain();
    await farm?.stop();
  });

  const register = (joinToken: string, name = "hand") =>
    session.register({ joinToken, agentId: "", name, labels: { hand: name }, capacity: 1, executors: ["shell"] });

  it("refuses a wrong join token and a revoked one, naming why", async () => {
    await assert.rejects(register("dyj_wrong_token_0123456789"), (err: RegistrationRefusedError) =>
      err instanceof RegistrationRefusedError && /join token is unknown or revoked/.test(err.message));
    const { id, token } = await farm.client.createJoinToken({ description: "short-lived" });
    const ok = await register(token, "short-lived");
    assert.ok(ok.sessionToken.startsWith("dys_"));
    await farm.client.revokeJoinToken({ id });
    await assert.rejects(register(token, "short-lived"), /unknown or revoked/);
  });

  it("refuses a malformed registration with every problem named", async () => {
    await assert.rejects(
      session.register({ joinToken: farm.joinToken, agentId: "not-a-uuid", name: "bad name!", labels: {}, capacity: 0, executors: ["vm"] }),
      (err: Error) => /name 'bad name!'/.test(err.message) && /capacity 0/.test(err.message) && /agent_id must be a UUID/.test(err.message) && /executors/.test(err.message),
    );
  });

  it("checks the lease on every write, keeps chunks in order and counts stale writes", async () => {
    const accepted = await register(farm.joinToken);
    const client = createAgentClient(farm.server.grpcAddress, () => ({ agentId: accepted.agentId, sessionToken: accepted.sessionToken }));
    const assigned: Assignment[] = [];
    const sub = nc.subscribe(`${farm.prefix}.agent.${accepted.agentId}.assign`, {
      callback: (_e, m) => {
        const payload = verifyPayload(sessionKey(accepted.sessionToken), m.data);
        if (payload) assigned.push(fromBinary(AssignmentSchema, payload));
      },
    });
    const runId = await submit(farm.client, "name: hand\nstages:\n  s: { executor: shell, command: 'true', agent: { hand: 'hand' } }\n");
    const a = await waitFor(() => assigned[0], { message: "assignment over NATS" });
    assert.equal(a.runId, runId);
    // The same assignment is also available by polling (a lost NATS message only delays).
    const polled = await client.pollAssignments({});
    assert.deepEqual(polled.assignments.map((x) => x.attemptId), [a.attemptId]);

    // One stream carries every attempt of an agent; one attempt's trouble is answered on it alone.
    const s = open(client);
    // A report before `open` is answered with `retry` (reopen, then resend), not acted on.
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("early\n"), stream: 1 } });
    const retry = await s.next(1);
    assert.equal(retry?.body.case, "retry");
    assert.equal(retry?.attemptId, a.attemptId);
    assert.match(retry?.body.case === "retry" ? retry.body.value.message : "", /not open on this stream: send 'open' first/);
    // A wrong lease is rejected and counted, and the stream stays open.
    s.send(a, { case: "open", value: {} }, "00000000-0000-0000-0000-000000000000");
    const rej = await s.next(2);
    assert.equal(rej?.body.case, "rejected");
    assert.match(rej?.body.case === "rejected" ? rej.body.value.message : "", /lease was replaced|stale/);

    // The right lease on the same stream: started, chunks 1 and 2, then a gap (4) is refused.
    s.send(a, { case: "open", value: {} });
    assert.equal((await s.next(3))?.body.case, "ack");
    s.send(a, { case: "started", value: {} });
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("one\n"), stream: 1 } });
    s.send(a, { case: "log", value: { seq: 2n, data: Buffer.from("two\n"), stream: 1 } });
    s.send(a, { case: "log", value: { seq: 1n, data: Buffer.from("dup\n"), stream: 1 } }); // replay: ignored
    await waitFor(() => s.replies.some((r) => r.body.case === "ack" && r.body.value.logSeq === 2n), { message: "ack of seq 2" });
    s.send(a, { case: "log", value: { seq: 4n, data: Buffer.from("gap\n"), stream: 1 } });
    await waitFor(() => s.replies.some((r) => r.body.case === "rejected"), { message: "gap rejected" });
    const logs = await farm.pg.query("SELECT chunk_seq::int, convert_from(data, 'UTF8') AS text FROM run_events WHERE run_id = $1 AND kind = 'log' ORDER BY seq", [runId]);
    assert.deepEqual(logs.rows, [{ chunk_seq: 1, text: "one\n" }, { chunk_seq: 2, text: "two\n" }]);

    // The attempt is replaced once its lease runs out; the old lease's writes are then stale.
    await waitFor(async () => (await farm.pg.query("SELECT 1 FROM attempts WHERE run_id = $1 AND state = 'lost'", [runId])).rowCount, {
      timeoutMs: 15_000, message: "lease expiry",
    });
    const late = open(client);
    late.send(a, { case: "open", value: {} });
    const lateReply = await late.next(1);
    assert.equal(lateReply?.body.case, "rejected");
    assert.match(lateReply?.body.case === "rejected" ? lateReply.body.value.message : "", /already ended as lost/);
    const metrics = await (await fetch(`${farm.server.httpUrl}/metrics`)).text();
    const stale = [...metrics.matchAll(/^dockyard_stale_writes_total\{kind="\w+"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(stale >= 2, `stale writes counted: ${stale}`);
    sub.unsubscribe();
    client.close();
  });

  it("refuses agent calls with a wrong session", async () => {
    const accepted = await register(farm.joinToken, "session-check");
    const client = createAgentClient(farm.server.grpcAddress, () => ({ agentId: accepted.agentId, sessionToken: "dys_forged" }));
    await assert.rejects(client.pollAssignments({}), /agent session is unknown or replaced/);
    client.close();
  });

  it("ignores assignments on NATS that are not signed with the agent's session", async () => {
    const agent = await farm.startAgent({ name: "guarded", executor: "shell" });
    const marker = `/tmp/dockyard-forged-${randomUUID()}`;
    const forged = toBinary(AssignmentSchema, create(AssignmentSchema, {
      attemptId: randomUUID(), leaseId: randomUUID(), runId: randomUUID(), stageId: randomUUID(), stageName: "evil", attemptNumber: 1,
      leaseTtlMs: 10_000n, spec: { commands: [`touch ${marker}`], executor: "shell" },
    }));
    const subject = `${farm.prefix}.agent.${agent.agentId}.assign`;
    nc.publish(subject, forged); // unsigned
    nc.publish(subject, signPayload(sessionKey("dys_guessed"), forged)); // wrong key
    await nc.flush();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(agent.running, 0);
    assert.equal(existsSync(marker), false, "a forged assignment ran");
  });
});
