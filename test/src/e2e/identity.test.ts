// Agent identity: what a registration must prove (a live join token, the
// agent's own key, a fresh request) and what revocation does to live agents
// (their sessions end, their attempts are lost and retried elsewhere, their
// processes stop the work and exit, and they cannot come back).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  create,
  clientTlsCredentials,
  generateKeyPair,
  joinProof,
  joinTokenHash,
  keyPairFromPem,
  signRegistration,
  splitJoinToken,
  PROTOCOL_VERSION,
  RegisterRequestSchema,
  type KeyPair,
  type RegisterRequest,
  type RegisterRefused,
} from "@dockyard/proto";
import { CredentialSource, RegistrationRefusedError, createAgentClient, register, type AgentClient } from "@dockyard/agent";
import { startFarm, handAgent, submit, waitFor, waitForRun, type Farm, type SpawnedAgent } from "../index";

/** A RegisterRequest built by hand, so a test can tamper with any part of it. */
function registerRequest(
  pair: KeyPair,
  secret: string,
  o: { agentId?: string; name?: string; timestampMs?: number; signer?: KeyPair; nonce?: Uint8Array } = {},
): RegisterRequest {
  const claims = {
    agentId: o.agentId ?? "",
    name: o.name ?? "hand",
    publicKey: pair.publicRaw,
    nonce: o.nonce ?? randomBytes(16),
    timestampMs: BigInt(o.timestampMs ?? Date.now()),
  };
  return create(RegisterRequestSchema, {
    ...claims,
    hostname: "hand-host",
    labels: {},
    capacity: 1,
    protocolVersion: PROTOCOL_VERSION,
    capabilities: ["shell"],
    version: "test",
    joinProof: joinProof(joinTokenHash(secret), claims),
    keySignature: signRegistration(o.signer ?? pair, claims),
  });
}

/** A process's state letter and start time (clock ticks since boot) from /proc, or null when it is gone. */
function procStat(pid: number): { state: string; startTime: string } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
      .replace(/^.*\) /s, "")
      .split(" ");
    return { state: fields[0]!, startTime: fields[19]! };
  } catch {
    return null;
  }
}

/** Whether the process `pid` that started at `startTime` still runs (a zombie or a reused pid does not count). */
function alive(pid: number, startTime: string): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== "Z" && stat.startTime === startTime;
}

/** Wait (with a deadline) for a spawned agent to exit; its exit code. */
async function exitCode(agent: SpawnedAgent, timeoutMs = 15_000): Promise<number | null> {
  await waitFor(() => agent.child.exitCode !== null || agent.child.signalCode !== null, { timeoutMs, message: `agent in ${agent.stateDir} to exit` });
  return agent.exited;
}

const LONG_STAGE = (pool: string) => `
name: evict-${pool}
stages:
  long:
    executor: shell
    agent: { pool: ${pool} }
    retry: { count: 1, on: [lost] }
    commands:
      - 'echo "attempt $DOCKYARD_ATTEMPT"'
      - 'if [ "$DOCKYARD_ATTEMPT" = 1 ]; then sleep 30 & echo "sleep pid $!"; wait; fi'
      - 'echo done'
`;

describe("agent identity", { timeout: 180_000 }, () => {
  let farm: Farm;
  /** An AgentService client without a session: Register needs none. */
  let anon: AgentClient;
  before(async () => {
    farm = await startFarm();
    anon = createAgentClient(
      farm.server.grpcAddress,
      clientTlsCredentials(farm.server.pki.caPem),
      () => ({ agentId: "", sessionId: "" }),
      new CredentialSource(generateKeyPair()),
    );
  });
  after(async () => {
    anon?.close();
    await farm?.stop();
  });

  const refusal = async (req: RegisterRequest): Promise<RegisterRefused> => {
    const res = await anon.register(req);
    assert.equal(res.result.case, "refused", `expected a refusal, got ${res.result.case}`);
    return res.result.value as RegisterRefused;
  };
  const agentsNamed = async (name: string) =>
    (
      await farm.pg.query<{ id: string; state: string; session_id: string; public_key: string }>(
        "SELECT id, state, session_id, public_key FROM agents WHERE name = $1 ORDER BY registered_at",
        [name],
      )
    ).rows;

  const hand = (name: string, joinToken = farm.joinToken, pair?: KeyPair) => handAgent(farm, name, { joinToken, pair });

  it("refuses a wrong join token, naming why, and registers nothing", async () => {
    await assert.rejects(
      register(anon, generateKeyPair(), {
        joinToken: "dyj_wrong_token_0123456789",
        agentId: "",
        name: "wrong-token",
        labels: {},
        capacity: 1,
        capabilities: ["shell"],
      }),
      (err: Error) =>
        err instanceof RegistrationRefusedError &&
        err.code === "unauthenticated" &&
        /registration refused \(unauthenticated\): the join proof matches no live join token \(wrong or revoked token\)/.test(err.message),
    );
    assert.deepEqual(await agentsNamed("wrong-token"), []);
  });

  it("refuses a revoked join token", async () => {
    const { id, token } = await farm.client.createJoinToken({ description: "short-lived" });
    // Printed as `<secret>.<CA fingerprint>`, so an agent pins the CA on first contact.
    const { secret, caFingerprint } = splitJoinToken(token);
    assert.equal(caFingerprint, farm.server.pki.caFingerprint);
    const first = await hand("short-lived", secret);
    assert.equal((await farm.client.revokeJoinToken({ id })).agentsRevoked, 1);
    await assert.rejects(hand("short-lived", secret), /registration refused \(unauthenticated\): .*\(wrong or revoked token\)/);
    const rows = await agentsNamed("short-lived");
    assert.deepEqual(
      rows.map((r) => [r.id, r.state, r.session_id]),
      [[first.accepted.agentId, "revoked", ""]],
    );
    first.client.close();
  });

  it("refuses a replayed registration: the same request is accepted once", async () => {
    const req = registerRequest(generateKeyPair(), farm.joinToken, { name: "replayed" });
    const res = await anon.register(req);
    assert.equal(res.result.case, "accepted");
    const refused = await refusal(req);
    assert.equal(refused.code, "unauthenticated");
    assert.match(refused.message, /this registration was seen before \(replayed nonce\)/);
    assert.equal((await agentsNamed("replayed")).length, 1);
  });

  it("refuses a timestamp more than 60 s from the server's clock, either way", async () => {
    const pair = generateKeyPair();
    const past = await refusal(registerRequest(pair, farm.joinToken, { name: "stale", timestampMs: Date.now() - 120_000 }));
    assert.equal(past.code, "unauthenticated");
    assert.match(past.message, /registration timestamp is -120 s from the server's clock \(at most 60 s\): check the clocks/);
    const future = await refusal(registerRequest(pair, farm.joinToken, { name: "stale", timestampMs: Date.now() + 120_000 }));
    assert.match(future.message, /registration timestamp is 120 s from the server's clock/);
    assert.deepEqual(await agentsNamed("stale"), []);
  });

  it("refuses a key signature that does not match the public key", async () => {
    const refused = await refusal(registerRequest(generateKeyPair(), farm.joinToken, { name: "missigned", signer: generateKeyPair() }));
    assert.equal(refused.code, "unauthenticated");
    assert.match(refused.message, /the key signature does not match the public key/);
    assert.deepEqual(await agentsNamed("missigned"), []);
  });

  it("names every problem of a malformed request at once", async () => {
    const req = registerRequest(generateKeyPair(), farm.joinToken, { name: "bad name!", agentId: "not-a-uuid" });
    Object.assign(req, { protocolVersion: 1, capacity: 0, capabilities: ["vm"], nonce: new Uint8Array(4) });
    const refused = await refusal(req);
    assert.equal(refused.code, "protocol_mismatch");
    for (const problem of [
      /agent speaks protocol 1, server speaks 3/,
      /name 'bad name!'/,
      /agent_id must be a UUID/,
      /capacity 0/,
      /capabilities must be/,
      /nonce must be 16 to 64 bytes, got 4/,
    ]) {
      assert.match(refused.message, problem);
    }
  });

  it("refuses an existing agent id presented with another key, and the real agent keeps working", async () => {
    const real = await hand("victim");
    const before = await agentsNamed("victim");
    const thief = generateKeyPair();
    const refused = await refusal(registerRequest(thief, farm.joinToken, { agentId: real.accepted.agentId, name: "victim" }));
    assert.equal(refused.code, "permission_denied");
    assert.equal(refused.message, `agent id ${real.accepted.agentId} is registered with another key; an agent id cannot be taken over`);
    // The real agent's session is untouched: same key, same session, its calls still work.
    assert.deepEqual(await agentsNamed("victim"), before);
    assert.equal(before[0]?.public_key, Buffer.from(real.pair.publicRaw).toString("hex"));
    assert.equal(before[0]?.session_id, real.accepted.sessionId);
    await real.client.heartbeat({ runningAttemptIds: [], draining: false });
    assert.deepEqual((await real.client.pollAssignments({})).ownedAttemptIds, []);
    real.client.close();
  });

  /**
   * A long stage on a pool of agents: waits until attempt 1 runs its `sleep` and returns the
   * attempt, the agent it runs on and the sleep's pid (alive).
   */
  async function longStageRunning(pool: string) {
    const runId = await submit(farm.client, LONG_STAGE(pool));
    const running = await waitFor(
      async () =>
        (
          await farm.pg.query<{ id: string; agent_id: string; name: string }>(
            "SELECT a.id, a.agent_id, g.name FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 AND a.state = 'running'",
            [runId],
          )
        ).rows[0],
      { message: `attempt 1 of ${pool} running` },
    );
    const pid = await waitFor(
      async () => {
        const logs = await farm.pg.query<{ text: string }>(
          "SELECT string_agg(convert_from(data, 'UTF8'), '' ORDER BY seq) AS text FROM run_events WHERE run_id = $1 AND kind = 'log'",
          [runId],
        );
        const m = /sleep pid (\d+)/.exec(logs.rows[0]?.text ?? "");
        return m ? Number(m[1]) : undefined;
      },
      { message: "the sleep's pid in the log" },
    );
    const startTime = procStat(pid)?.startTime ?? "";
    assert.ok(alive(pid, startTime), `sleep ${pid} runs`);
    assert.match(readFileSync(`/proc/${pid}/cmdline`, "utf8"), /^sleep\x0030/);
    return { runId, attempt: running, sleep: { pid, startTime } };
  }

  /** The run's attempts by number, with state, reason and agent name. */
  const attemptsOf = async (runId: string) =>
    (
      await farm.pg.query<{ number: number; state: string; reason: string | null; name: string }>(
        "SELECT a.number, a.state, a.reason, g.name FROM attempts a JOIN agents g ON g.id = a.agent_id WHERE a.run_id = $1 ORDER BY a.number",
        [runId],
      )
    ).rows;

  it("revoking a join token evicts its live agents: attempts lost and retried, work stopped, no way back", async () => {
    const { id: tokenId, token } = await farm.client.createJoinToken({ description: "to be revoked" });
    const spawned = new Map(
      ["evict-a", "evict-b"].map((name) => [name, farm.spawnAgent({ name, executor: "shell", capacity: 1, labels: { pool: "evict" }, joinToken: token })]),
    );
    await waitFor(async () => (await farm.pg.query("SELECT 1 FROM agents WHERE name IN ('evict-a', 'evict-b') AND state = 'online'")).rowCount === 2, {
      message: "both agents of the token online",
    });
    const { runId, attempt, sleep } = await longStageRunning("evict");
    // An agent of another token (the farm's), to take the retry.
    await farm.startAgent({ name: "evict-rescue", executor: "shell", capacity: 1, labels: { pool: "evict" } });

    assert.equal((await farm.client.revokeJoinToken({ id: tokenId })).agentsRevoked, 2);
    const revoked = await farm.pg.query<{ name: string; state: string; session_id: string }>(
      "SELECT name, state, session_id FROM agents WHERE name IN ('evict-a', 'evict-b') ORDER BY name",
    );
    assert.deepEqual(revoked.rows, [
      { name: "evict-a", state: "revoked", session_id: "" },
      { name: "evict-b", state: "revoked", session_id: "" },
    ]);
    const listed = (await farm.client.listAgents({})).agents
      .filter((a) => a.name.startsWith("evict-"))
      .map((a) => [a.name, a.state])
      .sort();
    assert.deepEqual(listed, [
      ["evict-a", "revoked"],
      ["evict-b", "revoked"],
      ["evict-rescue", "online"],
    ]);

    // The agent holding the attempt learns at its next heartbeat (300 ms here) and stops its shell.
    await waitFor(() => !alive(sleep.pid, sleep.startTime), { timeoutMs: 5000, message: `sleep ${sleep.pid} of the revoked agent to be killed` });
    for (const agent of spawned.values()) {
      assert.equal(await exitCode(agent, 5000), 1);
      const log = readFileSync(agent.logFile, "utf8");
      assert.match(log, /session refused; registering again/);
      assert.match(log, /agent refused by the server; stopping its attempts/);
      assert.match(log, /dockyard agent: registration refused \(unauthenticated\): the join proof matches no live join token \(wrong or revoked token\)/);
    }

    const run = await waitForRun(farm.client, runId, 30_000);
    assert.equal(run.state, "succeeded");
    assert.deepEqual(await attemptsOf(runId), [
      { number: 1, state: "lost", reason: "agent's join token was revoked", name: attempt.name },
      { number: 2, state: "succeeded", reason: "succeeded", name: "evict-rescue" },
    ]);

    // Started again (same state directory, same identity and token), the agent is refused at once.
    const holder = spawned.get(attempt.name)!;
    const before = readFileSync(holder.logFile, "utf8").length;
    const again = farm.spawnAgent({
      name: attempt.name,
      executor: "shell",
      capacity: 1,
      labels: { pool: "evict" },
      joinToken: token,
      stateDir: holder.stateDir,
    });
    assert.equal(await exitCode(again), 1);
    assert.match(readFileSync(again.logFile, "utf8").slice(before), /dockyard agent: registration refused \(unauthenticated\): .*wrong or revoked token/);
    assert.equal((await agentsNamed(attempt.name))[0]?.state, "revoked");
  });

  it("revoking one agent evicts it alone, and its id cannot register again", async () => {
    const x = farm.spawnAgent({ name: "revoke-x", executor: "shell", capacity: 1, labels: { pool: "single" } });
    await waitFor(async () => (await agentsNamed("revoke-x"))[0]?.state === "online", { message: "revoke-x online" });
    const { runId, attempt, sleep } = await longStageRunning("single");
    assert.equal(attempt.name, "revoke-x");
    // Same join token as revoke-x: it must keep working.
    await farm.startAgent({ name: "revoke-y", executor: "shell", capacity: 1, labels: { pool: "single" } });

    assert.equal((await farm.client.revokeAgent({ id: attempt.agent_id })).attemptsLost, 1);
    const listed = (await farm.client.listAgents({})).agents
      .filter((a) => a.name.startsWith("revoke-"))
      .map((a) => [a.name, a.state])
      .sort();
    assert.deepEqual(listed, [
      ["revoke-x", "revoked"],
      ["revoke-y", "online"],
    ]);

    await waitFor(() => !alive(sleep.pid, sleep.startTime), { timeoutMs: 5000, message: `sleep ${sleep.pid} of the revoked agent to be killed` });
    assert.equal(await exitCode(x, 5000), 1);
    const log = readFileSync(x.logFile, "utf8");
    assert.match(log, /session refused; registering again/);
    assert.match(log, /agent refused by the server; stopping its attempts/);
    assert.ok(
      log.includes(`dockyard agent: registration refused (unauthenticated): agent ${attempt.agent_id} was revoked; register a new agent (new state directory)`),
      log.slice(-2000),
    );

    const run = await waitForRun(farm.client, runId, 30_000);
    assert.equal(run.state, "succeeded");
    assert.deepEqual(await attemptsOf(runId), [
      { number: 1, state: "lost", reason: "agent was revoked", name: "revoke-x" },
      { number: 2, state: "succeeded", reason: "succeeded", name: "revoke-y" },
    ]);

    // The same id with its own key and a live token: still refused, by the server and by a restart.
    const key = keyPairFromPem(readFileSync(path.join(x.stateDir, "agent.key"), "utf8"));
    const refused = await refusal(registerRequest(key, farm.joinToken, { agentId: attempt.agent_id, name: "revoke-x" }));
    assert.equal(refused.code, "unauthenticated");
    assert.equal(refused.message, `agent ${attempt.agent_id} was revoked; register a new agent (new state directory)`);
    const again = farm.spawnAgent({ name: "revoke-x", executor: "shell", capacity: 1, labels: { pool: "single" }, stateDir: x.stateDir });
    assert.equal(await exitCode(again), 1);
    const restartLog = readFileSync(again.logFile, "utf8").slice(log.length);
    assert.ok(restartLog.includes(`agent ${attempt.agent_id} was revoked`), restartLog);
    assert.deepEqual(
      (await agentsNamed("revoke-x")).map((r) => r.state),
      ["revoked"],
    );
  });
});
