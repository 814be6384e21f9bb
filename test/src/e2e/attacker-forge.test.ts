// An attacker on the farm's network, acting: a NATS client with no credentials that read
// `>` for a whole run of a pipeline using a secret replays, mutates and forges every kind of
// message it saw (and new ones) on every subject agents and servers listen to. The README
// promises: nothing unsigned (or replayed, or misdirected) is acted on. Each "nothing
// happened" is checked beside a positive control that shows the test would have seen it
// happen. What the attacker can read is in attacker.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  FarmSealer,
  RunEventSchema,
  create,
  generateKeyPair,
  signNotice,
  toBinary,
  type RunEvent,
} from "@dockyard/proto";
import type { Agent } from "@dockyard/agent";
import { submit, waitFor, waitForRun, type Farm } from "../index";
import { runWithSecret, startSniffedFarm, type Captured } from "../helpers/sniffed-farm";

describe("an attacker with NATS access", { timeout: 180_000 }, () => {
  let farm: Farm;
  let sniffer: NatsConnection;
  let captured: Captured[];
  let agents: Agent[];

  before(async () => {
    const s = await startSniffedFarm();
    ({ farm, sniffer, captured, agents } = s);
    // What the attacker saw first (and replays below): a whole run of the pipeline with the secret.
    await runWithSecret(s);
  });
  after(async () => {
    await sniffer?.drain();
    await farm?.stop();
  });

  it("replays, mutates and forges every message kind without effect", async () => {
    // A live run to attack: a long first stage, then one that needs its workspace file. Both on
    // victim-a: a shell workspace is a directory of one agent, and which of two free agents a stage
    // gets is not promised.
    const marker = `attacked-${randomUUID()}`;
    const runId = await submit(
      farm.client,
      `
name: target
stages:
  long:
    executor: shell
    agent: { victim: a }
    commands: ["echo started", "echo kept > ws-file", "sleep 4", "echo done"]
  after:
    executor: shell
    agent: { victim: a }
    needs: [long]
    command: cat ws-file
`,
    );
    const running = await waitFor(
      async () =>
        (
          await farm.pg.query<{ id: string; agent_id: string }>(
            "SELECT id, agent_id FROM attempts WHERE run_id = $1 AND state = 'running'",
            [runId],
          )
        ).rows[0],
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
      {
        subject: agentSubject("assign"),
        data: signNotice(forgedKey, victim.agentId, { case: "assign", value: { attemptId: randomUUID() } }),
      },
      {
        subject: agentSubject("cancel"),
        data: signNotice(forgedKey, victim.agentId, {
          case: "cancel",
          value: { attemptId: running.id, reason: "forged" },
        }),
      },
      {
        subject: `${farm.prefix}.agents.run-ended`,
        data: signNotice(forgedKey, "", { case: "runEnded", value: { runId } }),
      },
      { subject: agentSubject("cancel"), data: Buffer.from(JSON.stringify({ attemptId: running.id })) },
      { subject: `${farm.prefix}.agents.run-ended`, data: Buffer.from(runId) },
      { subject: `${farm.prefix}.run.${runId}.events`, data: fakeEvent(1000n) },
      {
        subject: `${farm.prefix}.run.${runId}.events`,
        data: forgedSealer.seal(`${farm.prefix}.run.${runId}.events`, fakeEvent(1000n)),
      },
      {
        subject: `${farm.prefix}.scheduler.kick`,
        data: forgedSealer.seal(`${farm.prefix}.scheduler.kick`, Buffer.alloc(8)),
      },
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
    const toAgents = sends.filter(
      (s) => /\.agent\.[^.]+\.(assign|cancel)$/.test(s.subject) || s.subject.endsWith(".agents.run-ended"),
    );
    const toVictimOrAll = toAgents.filter(
      (s) =>
        s.subject.includes(victim.agentId) ||
        s.subject.endsWith(".agents.run-ended") ||
        s.subject.includes(other.agentId),
    ).length;
    await waitFor(() => agents.reduce((n, a) => n + a.refusedNotices, 0) - refusedBefore >= toVictimOrAll - 1, {
      timeoutMs: 10_000,
      message: `agents to refuse ${toVictimOrAll} notices (refused ${agents.reduce((n, a) => n + a.refusedNotices, 0) - refusedBefore})`,
    });
    await waitFor(() => busRefused(farm) > busRefusedBefore, {
      message: "the server to refuse forged run events and kicks",
    });

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
    const stored = (
      await farm.pg.query<{ seq: string; kind: string }>(
        "SELECT seq, kind FROM run_events WHERE run_id = $1 ORDER BY seq",
        [runId],
      )
    ).rows;
    assert.deepEqual(
      shown.map((e) => [Number(e.seq), e.body.case === "log" ? "log" : e.body.case]),
      stored.map((r) => [Number(r.seq), r.kind]),
    );

    // Positive control: the same cancel, signed with the server's real key for the right agent, does stop a stage.
    const controlRun = await submit(
      farm.client,
      "name: control\nstages:\n  s: { executor: shell, command: 'sleep 20' }\n",
    );
    const attempt = await waitFor(
      async () =>
        (
          await farm.pg.query<{ id: string; agent_id: string }>(
            "SELECT id, agent_id FROM attempts WHERE run_id = $1 AND state = 'running'",
            [controlRun],
          )
        ).rows[0],
      { message: "control stage running" },
    );
    sniffer.publish(
      `${farm.prefix}.agent.${attempt.agent_id}.cancel`,
      signNotice(farm.server.pki.signingKey.privateKey, attempt.agent_id, {
        case: "cancel",
        value: { attemptId: attempt.id, reason: "control" },
      }),
    );
    const control = await waitForRun(farm.client, controlRun, 15_000);
    assert.notEqual(control.state, "succeeded", "a genuinely signed cancel stopped the stage");
    assert.match(control.stages[0]!.reason, /canceled|control/);
  });
});

/** Follow a run with WatchRun until it ends; resolves with every event shown. */
function watch(farm: Farm, runId: string): Promise<RunEvent[]> {
  return (async () => {
    const out: RunEvent[] = [];
    for await (const e of farm.client.watchRun({
      runId,
      afterSeq: 0n,
      follow: true,
      stage: "",
    }) as AsyncIterable<RunEvent>)
      out.push(e);
    return out;
  })();
}

/** Messages the server refused (its NATS bus counts them). */
function busRefused(farm: Farm): number {
  return farm.server.refusedMessages();
}
