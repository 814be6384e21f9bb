// An attacker on the farm's network: a NATS client with no credentials that
// reads `>` for a whole run of a pipeline using a secret, then replays, mutates
// and forges every kind of message it saw (and new ones) on every subject
// agents and servers listen to; and a gRPC client holding all it captured.
// The README promises: no payload on NATS is secret, and nothing unsigned (or
// replayed, or misdirected) is acted on. Each "nothing happened" is checked
// beside a positive control that shows the test would have seen it happen.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { randomBytes, randomUUID, createPrivateKey } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  AGENT_AUTH_SCHEME,
  AgentService,
  AttemptReportSchema,
  FarmSealer,
  RunEventSchema,
  clientTlsCredentials,
  create,
  createClient,
  generateKeyPair,
  signNotice,
  toBinary,
  type RunEvent,
} from "@dockyard/proto";
import type { Agent } from "@dockyard/agent";
import { startFarm, submit, waitFor, waitForRun, NATS_URL, type Farm } from "../index";

interface Captured {
  subject: string;
  data: Uint8Array;
}

/** The ways a secret could be spelt in a payload. */
function spellings(value: string | Buffer): Buffer[] {
  const b = Buffer.from(value);
  return [b, Buffer.from(b.toString("hex")), Buffer.from(b.toString("base64")), Buffer.from(b.toString("base64url"))].filter((x) => x.length >= 8);
}

function leaks(captured: Captured[], secrets: Record<string, string | Buffer>): string[] {
  const found: string[] = [];
  for (const [what, value] of Object.entries(secrets)) {
    for (const form of spellings(value)) {
      const hit = captured.find((m) => Buffer.from(m.data).includes(form) || m.subject.includes(form.toString()));
      if (hit) found.push(`${what} in a message on ${hit.subject}`);
    }
  }
  return found;
}

describe("an attacker with NATS access", { timeout: 180_000 }, () => {
  let farm: Farm;
  let sniffer: NatsConnection;
  const captured: Captured[] = [];
  let agents: Agent[];
  const secretValue = `dk-${randomBytes(12).toString("hex")}`;
  const plainEnv = `plain-${randomBytes(8).toString("hex")}`;

  before(async () => {
    farm = await startFarm();
    // Everything on the server's NATS from before the agents exist.
    sniffer = await connect({ servers: NATS_URL, name: "attacker" });
    sniffer.subscribe(">", {
      callback: (_e, m) => {
        if (m.subject.startsWith(`${farm.prefix}.`)) captured.push({ subject: m.subject, data: m.data });
      },
    });
    await sniffer.flush();
    agents = [
      await farm.startAgent({ name: "victim-a", executor: "shell", capacity: 4 }),
      await farm.startAgent({ name: "victim-b", executor: "shell", capacity: 4 }),
    ];
    await farm.client.setSecret({ name: "deploy-token", value: Buffer.from(secretValue) });
  });
  after(async () => {
    await sniffer?.drain();
    await farm?.stop();
  });

  it("reads nothing secret on NATS during registration, heartbeats, assignment, logs and the run's end", async () => {
    const runId = await submit(
      farm.client,
      `
name: with-secret
env: { PLAIN_SETTING: ${plainEnv} }
stages:
  deploy:
    executor: shell
    env: { DEPLOY_TOKEN: { secret: deploy-token } }
    commands:
      - echo "token=$DEPLOY_TOKEN"
      - printf %s "$DEPLOY_TOKEN" | base64
      - test "$PLAIN_SETTING" = "${plainEnv}"
`,
    );
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
    // Let heartbeats and the run-ended broadcast happen while we listen.
    await waitFor(() => captured.some((m) => m.subject.endsWith(".agents.run-ended")), { message: "the run-ended broadcast" });
    await sniffer.flush();

    const keyPem = (a: Agent) => readFileSync(path.join(agentStateDir(a), "agent.key"), "utf8");
    const privateKeys = Object.fromEntries(
      agents.map((a, i) => {
        const der = createPrivateKey(keyPem(a)).export({ format: "der", type: "pkcs8" });
        return [`agent ${i} private key`, der.subarray(der.length - 32)];
      }),
    );
    const forbidden = {
      "join token": farm.joinToken,
      "the agent's join token": farm.agentJoinToken,
      "API token": farm.apiToken,
      "secret value": secretValue,
      "plain stage env value": plainEnv,
      ...privateKeys,
      "server signing key": farm.server.pki.signingKey.privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32),
      "farm key": farm.server.pki.farmKey,
    };
    // Positive controls: the search finds values that are in payloads (the wake-up of a stage
    // with secrets names its attempt; the run-ended notice names the run).
    const attemptIds = (await farm.pg.query<{ id: string }>("SELECT id FROM attempts WHERE run_id = $1", [runId])).rows.map((r) => r.id);
    assert.ok(leaks(captured, { "attempt id": attemptIds[0]! }).length > 0, "the sniffer saw the wake-up naming the attempt");
    assert.ok(leaks(captured, { "run id": runId }).length > 0, "the sniffer saw the run-ended notice");
    assert.deepEqual(leaks(captured, forbidden), []);
    // Agent credentials are `v1.<agentId>.<session>...`: none on NATS.
    for (const a of agents) assert.ok(!captured.some((m) => Buffer.from(m.data).includes(`v1.${a.agentId}.`)), "an agent credential on NATS");
    // And the secret never reached the stored log either: it was masked on the agent.
    const log = (
      await farm.pg.query<{ text: string }>(
        "SELECT string_agg(convert_from(data, 'UTF8'), '' ORDER BY seq) AS text FROM run_events WHERE run_id = $1 AND kind = 'log'",
        [runId],
      )
    ).rows[0]!.text;
    assert.match(log, /token=\*\*\*/);
    assert.deepEqual(
      spellings(secretValue).filter((f) => log.includes(f.toString())),
      [],
    );
  });

  it("replays, mutates and forges every message kind without effect", async () => {
    // A live run to attack: a long first stage, then one that needs its workspace file.
    const marker = `attacked-${randomUUID()}`;
    const runId = await submit(
      farm.client,
      `
name: target
stages:
  long:
    executor: shell
    commands: ["echo started", "echo kept > ws-file", "sleep 4", "echo done"]
  after:
    executor: shell
    needs: [long]
    command: cat ws-file
`,
    );
    const running = await waitFor(
      async () =>
        (await farm.pg.query<{ id: string; agent_id: string }>("SELECT id, agent_id FROM attempts WHERE run_id = $1 AND state = 'running'", [runId])).rows[0],
      { message: "the long stage running" },
    );
    const watched = watch(farm, runId);
    const agentsBefore = (await farm.pg.query("SELECT id, session_id, public_key, state FROM agents ORDER BY id")).rows;
    const refusedBefore = agents.reduce((n, a) => n + a.refusedNotices, 0);
    const busRefusedBefore = busRefused(farm);

    const forgedKey = generateKeyPair().privateKey;
    const forgedSealer = new FarmSealer(randomBytes(32));
    const victim = agents.find((a) => a.agentId === running.agent_id)!;
    const fakeEvent = (seq: bigint) =>
      toBinary(
        RunEventSchema,
        create(RunEventSchema, {
          seq,
          runId,
          atMs: BigInt(Date.now()),
          body: { case: "run", value: { state: "succeeded" } },
        }),
      );
    const sends: Captured[] = [];
    // 1. Replays and mutations of everything captured so far.
    for (const m of [...captured]) {
      sends.push(m);
      for (const at of [0, Math.floor(m.data.length / 2), m.data.length - 1]) {
        if (m.data.length === 0) continue;
        const copy = Buffer.from(m.data);
        copy[at] = copy[at]! ^ 0x5a;
        sends.push({ subject: m.subject, data: copy });
      }
    }
    // 2. New messages of every kind, signed or sealed with keys the attacker made.
    const agentSubject = (kind: string) => `${farm.prefix}.agent.${victim.agentId}.${kind}`;
    sends.push(
      { subject: agentSubject("assign"), data: signNotice(forgedKey, victim.agentId, { case: "assign", value: { attemptId: randomUUID() } }) },
      { subject: agentSubject("cancel"), data: signNotice(forgedKey, victim.agentId, { case: "cancel", value: { attemptId: running.id, reason: "forged" } }) },
      { subject: `${farm.prefix}.agents.run-ended`, data: signNotice(forgedKey, "", { case: "runEnded", value: { runId } }) },
      { subject: agentSubject("cancel"), data: Buffer.from(JSON.stringify({ attemptId: running.id })) },
      { subject: `${farm.prefix}.agents.run-ended`, data: Buffer.from(runId) },
      { subject: `${farm.prefix}.run.${runId}.events`, data: fakeEvent(1000n) },
      { subject: `${farm.prefix}.run.${runId}.events`, data: forgedSealer.seal(`${farm.prefix}.run.${runId}.events`, fakeEvent(1000n)) },
      { subject: `${farm.prefix}.scheduler.kick`, data: forgedSealer.seal(`${farm.prefix}.scheduler.kick`, Buffer.alloc(8)) },
    );
    // A genuine notice for one agent, re-addressed to the other: misdirected.
    const other = agents.find((a) => a !== victim)!;
    const genuineCancel = signNotice(farm.server.pki.signingKey.privateKey, other.agentId, {
      case: "cancel",
      value: { attemptId: running.id, reason: "misdirected" },
    });
    sends.push({ subject: agentSubject("cancel"), data: genuineCancel });
    for (const s of sends) sniffer.publish(s.subject, s.data);
    await sniffer.flush();

    // The agents saw and refused the notices (positive evidence the forgeries arrived).
    const toAgents = sends.filter((s) => /\.agent\.[^.]+\.(assign|cancel)$/.test(s.subject) || s.subject.endsWith(".agents.run-ended"));
    const toVictimOrAll = toAgents.filter(
      (s) => s.subject.includes(victim.agentId) || s.subject.endsWith(".agents.run-ended") || s.subject.includes(other.agentId),
    ).length;
    await waitFor(() => agents.reduce((n, a) => n + a.refusedNotices, 0) - refusedBefore >= toVictimOrAll - 1, {
      timeoutMs: 10_000,
      message: `agents to refuse ${toVictimOrAll} notices (refused ${agents.reduce((n, a) => n + a.refusedNotices, 0) - refusedBefore})`,
    });
    await waitFor(() => busRefused(farm) > busRefusedBefore, { message: "the server to refuse forged run events and kicks" });

    // Nothing happened: the long stage runs on and the run succeeds with its workspace intact.
    const run = await waitForRun(farm.client, runId);
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));
    const attempts = (await farm.pg.query("SELECT state FROM attempts WHERE run_id = $1", [runId])).rows;
    assert.deepEqual(
      attempts.map((a) => a.state),
      ["succeeded", "succeeded"],
      "no attempt was canceled, started twice or lost",
    );
    const after = (
      await farm.pg.query<{ text: string }>(
        "SELECT convert_from(data, 'UTF8') AS text FROM run_events WHERE run_id = $1 AND kind = 'log' AND payload->>'stageName' = 'after'",
        [runId],
      )
    ).rows;
    assert.equal(after.map((r) => r.text).join(""), "kept\n", "the workspace survived the forged run-ended");
    assert.deepEqual(
      (await farm.pg.query("SELECT id, session_id, public_key, state FROM agents ORDER BY id")).rows,
      agentsBefore,
      "no agent registered or was taken over",
    );
    assert.equal((await farm.pg.query("SELECT count(*)::int AS n FROM runs WHERE name = $1", [marker])).rows[0].n, 0);
    // The watcher showed exactly what the database holds.
    const shown = await watched;
    const stored = (await farm.pg.query<{ seq: string; kind: string }>("SELECT seq, kind FROM run_events WHERE run_id = $1 ORDER BY seq", [runId])).rows;
    assert.deepEqual(
      shown.map((e) => [Number(e.seq), e.body.case === "log" ? "log" : e.body.case]),
      stored.map((r) => [Number(r.seq), r.kind]),
    );

    // Positive control: the same cancel, signed with the server's real key for the right agent, does stop a stage.
    const controlRun = await submit(farm.client, "name: control\nstages:\n  s: { executor: shell, command: 'sleep 20' }\n");
    const attempt = await waitFor(
      async () =>
        (await farm.pg.query<{ id: string; agent_id: string }>("SELECT id, agent_id FROM attempts WHERE run_id = $1 AND state = 'running'", [controlRun]))
          .rows[0],
      { message: "control stage running" },
    );
    sniffer.publish(
      `${farm.prefix}.agent.${attempt.agent_id}.cancel`,
      signNotice(farm.server.pki.signingKey.privateKey, attempt.agent_id, { case: "cancel", value: { attemptId: attempt.id, reason: "control" } }),
    );
    const control = await waitForRun(farm.client, controlRun, 15_000);
    assert.notEqual(control.state, "succeeded", "a genuinely signed cancel stopped the stage");
    assert.match(control.stages[0]!.reason, /canceled|control/);
  });

  it("gets nowhere over gRPC with everything it captured", async () => {
    // The attacker knows the agent ids (they are in subjects, and are not secret).
    const agentIds = agents.map((a) => a.agentId);
    assert.ok(
      captured.some((m) => agentIds.some((id) => m.subject.includes(id))),
      "the sniffer saw agent ids in subjects",
    );
    const creds = clientTlsCredentials(farm.server.pki.caPem);
    const attempts = (await farm.pg.query<{ id: string; lease_id: string }>("SELECT id, lease_id FROM attempts LIMIT 3")).rows;
    for (const header of [
      "",
      `${AGENT_AUTH_SCHEME} v1.${agentIds[0]}.${randomUUID()}.${Date.now() + 60_000}.${randomBytes(64).toString("base64url")}`,
      `Bearer ${farm.agentJoinToken}`,
    ]) {
      const client = createClient(AgentService, farm.server.grpcAddress, {
        credentials: creds,
        metadata: () => {
          const md = new grpc.Metadata();
          if (header) md.set("authorization", header);
          return md;
        },
      });
      await assert.rejects(client.heartbeat({ runningAttemptIds: [], draining: false }), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
      await assert.rejects(client.getAssignment({ attemptId: attempts[0]!.id }), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
      await assert.rejects(client.pollAssignments({}), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
      const stream = client.attemptStream();
      const ended = new Promise<grpc.ServiceError>((resolve) => stream.on("error", resolve));
      stream.write(
        create(AttemptReportSchema, {
          attemptId: attempts[0]!.id,
          leaseId: attempts[0]!.lease_id,
          body: { case: "finished", value: { outcome: "succeeded" } },
        }),
      );
      assert.equal((await ended).code, grpc.status.UNAUTHENTICATED);
      client.close();
    }
    // Nothing it did changed an attempt.
    const after = (await farm.pg.query<{ id: string; state: string }>("SELECT id, state FROM attempts WHERE id = ANY($1)", [attempts.map((a) => a.id)])).rows;
    assert.ok(after.every((a) => a.state !== "running" && a.state !== "assigned"));
  });
});

/** Follow a run with WatchRun until it ends; resolves with every event shown. */
function watch(farm: Farm, runId: string): Promise<RunEvent[]> {
  return (async () => {
    const out: RunEvent[] = [];
    for await (const e of farm.client.watchRun({ runId, afterSeq: 0n, follow: true, stage: "" }) as AsyncIterable<RunEvent>) out.push(e);
    return out;
  })();
}

function agentStateDir(agent: Agent): string {
  return (agent as unknown as { config: { stateDir: string } }).config.stateDir;
}

/** Messages the server refused (its NATS bus counts them). */
function busRefused(farm: Farm): number {
  return farm.server.refusedMessages();
}
