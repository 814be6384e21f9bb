// Agent identity: what a registration must prove (a live join token, the agent's own key,
// a fresh request) and that an agent id cannot be taken over. What revocation does to live
// agents is in identity-revoke.test.ts.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, PROTOCOL_VERSION, splitJoinToken, type KeyPair } from "@dockyard/proto";
import { RegistrationRefusedError, register } from "@dockyard/agent";
import { handAgent, type Farm } from "../index";
import { identitySuite, registerRequest } from "../helpers/registration";

describe("agent identity", { timeout: 180_000 }, () => {
  const suite = identitySuite();
  const { refusal, agentsNamed } = suite;
  let farm: Farm;
  before(() => {
    farm = suite.farm;
  });

  const hand = (name: string, joinToken = farm.joinToken, pair?: KeyPair) => handAgent(farm, name, { joinToken, pair });

  it("refuses a wrong join token, naming why, and registers nothing", async () => {
    await assert.rejects(
      register(suite.anon, generateKeyPair(), {
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
        /registration refused \(unauthenticated\): the join proof matches no live join token \(wrong or revoked token\)/.test(
          err.message,
        ),
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
    await assert.rejects(
      hand("short-lived", secret),
      /registration refused \(unauthenticated\): .*\(wrong or revoked token\)/,
    );
    const rows = await agentsNamed("short-lived");
    assert.deepEqual(
      rows.map((r) => [r.id, r.state, r.session_id]),
      [[first.accepted.agentId, "revoked", ""]],
    );
    first.client.close();
  });

  it("refuses a replayed registration: the same request is accepted once", async () => {
    const req = registerRequest(generateKeyPair(), farm.joinToken, { name: "replayed" });
    const res = await suite.anon.register(req);
    assert.equal(res.result.case, "accepted");
    const refused = await refusal(req);
    assert.equal(refused.code, "unauthenticated");
    assert.match(refused.message, /this registration was seen before \(replayed nonce\)/);
    assert.equal((await agentsNamed("replayed")).length, 1);
  });

  it("refuses a timestamp more than 60 s from the server's clock, either way", async () => {
    const pair = generateKeyPair();
    const past = await refusal(
      registerRequest(pair, farm.joinToken, { name: "stale", timestampMs: Date.now() - 120_000 }),
    );
    assert.equal(past.code, "unauthenticated");
    assert.match(
      past.message,
      /registration timestamp is -120 s from the server's clock \(at most 60 s\): check the clocks/,
    );
    const future = await refusal(
      registerRequest(pair, farm.joinToken, { name: "stale", timestampMs: Date.now() + 120_000 }),
    );
    assert.match(future.message, /registration timestamp is 120 s from the server's clock/);
    assert.deepEqual(await agentsNamed("stale"), []);
  });

  it("refuses a key signature that does not match the public key", async () => {
    const refused = await refusal(
      registerRequest(generateKeyPair(), farm.joinToken, { name: "missigned", signer: generateKeyPair() }),
    );
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
      new RegExp(`speaks protocol 1; server \\S+ \\(\\w+\\) speaks protocol ${PROTOCOL_VERSION} and accepts`),
      /name 'bad name!'/,
      /agent_id must be a UUID/,
      /capacity 0/,
      /unknown capabilities \[vm\]: this server.s stage kinds know docker, shell, build/,
      /nonce must be 16 to 64 bytes, got 4/,
    ]) {
      assert.match(refused.message, problem);
    }
  });

  it("refuses an existing agent id presented with another key, and the real agent keeps working", async () => {
    const real = await hand("victim");
    const before = await agentsNamed("victim");
    const thief = generateKeyPair();
    const refused = await refusal(
      registerRequest(thief, farm.joinToken, { agentId: real.accepted.agentId, name: "victim" }),
    );
    assert.equal(refused.code, "permission_denied");
    assert.equal(
      refused.message,
      `agent id ${real.accepted.agentId} is registered with another key; an agent id cannot be taken over`,
    );
    // The real agent's session is untouched: same key, same session, its calls still work.
    assert.deepEqual(await agentsNamed("victim"), before);
    assert.equal(before[0]?.public_key, Buffer.from(real.pair.publicRaw).toString("hex"));
    assert.equal(before[0]?.session_id, real.accepted.sessionId);
    await real.client.heartbeat({ runningAttemptIds: [], draining: false });
    assert.deepEqual((await real.client.pollAssignments({})).ownedAttemptIds, []);
    real.client.close();
  });
});
