// An attacker on the farm's network, reading: a NATS client with no credentials that reads
// `>` for a whole run of a pipeline using a secret, then a gRPC client holding all it
// captured. The README promises: no payload on NATS is secret. Each "nothing happened" is
// checked beside a positive control that shows the test would have seen it happen. The
// attacker replaying, mutating and forging messages is in attacker-forge.test.ts.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { randomBytes, randomUUID, createPrivateKey } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  AGENT_AUTH_SCHEME,
  AgentService,
  AttemptReportSchema,
  clientTlsCredentials,
  create,
  createClient,
} from "@dockyard/proto";
import type { Agent } from "@dockyard/agent";
import type { Farm } from "../index";
import { runWithSecret, startSniffedFarm, type Captured } from "../helpers/sniffed-farm";

/** The ways a secret could be spelt in a payload. */
function spellings(value: string | Buffer): Buffer[] {
  const b = Buffer.from(value);
  return [
    b,
    Buffer.from(b.toString("hex")),
    Buffer.from(b.toString("base64")),
    Buffer.from(b.toString("base64url")),
  ].filter((x) => x.length >= 8);
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
  let captured: Captured[];
  let agents: Agent[];
  let secretValue: string;
  let plainEnv: string;

  before(async () => {
    ({ farm, sniffer, captured, agents, secretValue, plainEnv } = await startSniffedFarm());
  });
  after(async () => {
    await sniffer?.drain();
    await farm?.stop();
  });

  it("reads nothing secret on NATS during registration, heartbeats, assignment, logs and the run's end", async () => {
    const { runId, run } = await runWithSecret({ farm, sniffer, captured, plainEnv });
    assert.equal(run.state, "succeeded", JSON.stringify(run.stages.map((s) => [s.name, s.state, s.reason])));

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
      "server signing key": farm.server.pki.signingKey.privateKey
        .export({ format: "der", type: "pkcs8" })
        .subarray(-32),
      "farm key": farm.server.pki.farmKey,
    };
    // Positive controls: the search finds values that are in payloads (the wake-up of a stage
    // with secrets names its attempt; the run-ended notice names the run).
    const attemptIds = (
      await farm.pg.query<{ id: string }>("SELECT id FROM attempts WHERE run_id = $1", [runId])
    ).rows.map((r) => r.id);
    assert.ok(
      leaks(captured, { "attempt id": attemptIds[0]! }).length > 0,
      "the sniffer saw the wake-up naming the attempt",
    );
    assert.ok(leaks(captured, { "run id": runId }).length > 0, "the sniffer saw the run-ended notice");
    assert.deepEqual(leaks(captured, forbidden), []);
    // Agent credentials are `v1.<agentId>.<session>...`: none on NATS.
    for (const a of agents)
      assert.ok(!captured.some((m) => Buffer.from(m.data).includes(`v1.${a.agentId}.`)), "an agent credential on NATS");
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

  it("gets nowhere over gRPC with everything it captured", async () => {
    // The attacker knows the agent ids (they are in subjects, and are not secret).
    const agentIds = agents.map((a) => a.agentId);
    assert.ok(
      captured.some((m) => agentIds.some((id) => m.subject.includes(id))),
      "the sniffer saw agent ids in subjects",
    );
    const creds = clientTlsCredentials(farm.server.pki.caPem);
    const attempts = (
      await farm.pg.query<{ id: string; lease_id: string }>("SELECT id, lease_id FROM attempts LIMIT 3")
    ).rows;
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
      await assert.rejects(
        client.heartbeat({ runningAttemptIds: [], draining: false }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
      );
      await assert.rejects(
        client.getAssignment({ attemptId: attempts[0]!.id }),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
      );
      await assert.rejects(
        client.pollAssignments({}),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
      );
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
    const after = (
      await farm.pg.query<{ id: string; state: string }>("SELECT id, state FROM attempts WHERE id = ANY($1)", [
        attempts.map((a) => a.id),
      ])
    ).rows;
    assert.ok(after.every((a) => a.state !== "running" && a.state !== "assigned"));
  });
});

function agentStateDir(agent: Agent): string {
  return (agent as unknown as { config: { stateDir: string } }).config.stateDir;
}
