// The farm's transport security: agents pin the CA their join token names,
// clients trust only the farm CA, plaintext gets nowhere, and every call is
// authenticated (an API token for RunService, a credential signed with the
// agent's key for AgentService).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  AGENT_AUTH_SCHEME,
  RunService,
  agentCredential,
  clientTlsCredentials,
  createClient,
  generateKeyPair,
  type KeyPair,
} from "@dockyard/proto";
import { ensurePki, type Pki } from "@dockyard/control-plane";
import {
  Agent,
  CredentialSource,
  chooseExecutors,
  createAgentClient,
  loadAgentConfig,
  register,
  type AgentClient,
} from "@dockyard/agent";
import { startFarm, testLog, type Farm } from "../index";
import { tempDir } from "@dockyard/testkit";

/** Asserts that `call` fails with gRPC status `code` and, when given, details matching `details`. */
async function failsWith(call: Promise<unknown>, code: grpc.status, details?: RegExp | string): Promise<void> {
  await assert.rejects(call, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `status ${grpc.status[err.code]} (${err.details}), expected ${grpc.status[code]}`);
    if (typeof details === "string") assert.equal(err.details, details);
    else if (details) assert.match(err.details, details);
    return true;
  });
}

const bearer = (token: string) => () => {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
};

const agentAuth = (credential: string) => {
  const md = new grpc.Metadata();
  md.set("authorization", `${AGENT_AUTH_SCHEME} ${credential}`);
  return md;
};

describe("transport security", { timeout: 120_000 }, () => {
  let farm: Farm;
  /** Another farm's PKI: a CA the agents and clients of this farm must not accept. */
  let other: Pki;
  const otherDir = tempDir("other-pki");
  before(async () => {
    farm = await startFarm();
    other = await ensurePki({ dir: otherDir, sans: [] });
    assert.notEqual(other.caFingerprint, farm.server.pki.caFingerprint);
  });
  after(async () => {
    await farm?.stop();
    rmSync(otherDir, { recursive: true, force: true });
  });

  const agentsNamed = async (name: string) =>
    (await farm.pg.query<{ state: string }>("SELECT state FROM agents WHERE name = $1", [name])).rows;

  it("an agent whose join token names another CA refuses the server and registers nothing", async () => {
    const stateDir = tempDir("agent-mispinned");
    const env = farm.agentEnv({ name: "mispinned", executor: "shell", stateDir });
    const cfg = loadAgentConfig({ ...env, DOCKYARD_JOIN_TOKEN: `${farm.joinToken}.${other.caFingerprint}` });
    assert.equal(cfg.caFingerprint, other.caFingerprint);
    const agent = new Agent(cfg, { log: testLog(), executors: await chooseExecutors(cfg) });
    await assert.rejects(agent.start(), (err: Error) => {
      assert.ok(
        err.message.startsWith(
          `the server at ${farm.server.grpcAddress} presented no certificate with fingerprint ${other.caFingerprint}; got: `,
        ),
        err.message,
      );
      assert.ok(err.message.includes(`${farm.server.pki.caFingerprint} (Dockyard farm CA)`), err.message);
      return true;
    });
    await agent.stop();
    assert.deepEqual(await agentsNamed("mispinned"), []);
    assert.equal(existsSync(path.join(stateDir, "server-ca.crt")), false, "nothing pinned");

    // A CA file that is not the one the token names is refused the same way, before any call.
    const fromFile = new Agent(loadAgentConfig({ ...env, DOCKYARD_CA_FILE: other.files.ca! }), {
      log: testLog(),
      executors: await chooseExecutors(cfg),
    });
    await assert.rejects(fromFile.start(), {
      message: `the CA in ${other.files.ca} has fingerprint ${other.caFingerprint}, not the pinned ${farm.server.pki.caFingerprint}`,
    });
    await fromFile.stop();
    assert.deepEqual(await agentsNamed("mispinned"), []);

    // Positive control: the same agent with the farm's token pins the farm CA and registers.
    await farm.startAgent({ name: "mispinned", executor: "shell", stateDir });
    assert.equal(readFileSync(path.join(stateDir, "server-ca.crt"), "utf8"), farm.server.pki.caPem);
    assert.deepEqual(await agentsNamed("mispinned"), [{ state: "online" }]);
  });

  it("a client trusting another CA cannot connect", async () => {
    const runs = createClient(RunService, farm.server.grpcAddress, {
      credentials: clientTlsCredentials(other.caPem),
      metadata: bearer(farm.apiToken),
    });
    // The farm's certificate chain ends in a CA this client does not trust.
    await failsWith(
      runs.listRuns({}, { timeoutMs: 5000 }),
      grpc.status.UNAVAILABLE,
      /self-signed certificate in certificate chain/,
    );
    runs.close();
    const pair = generateKeyPair();
    const agents = createAgentClient(
      farm.server.grpcAddress,
      clientTlsCredentials(other.caPem),
      () => ({ agentId: "", sessionId: "" }),
      new CredentialSource(pair),
    );
    await failsWith(
      register(agents, pair, {
        joinToken: farm.joinToken,
        agentId: "",
        name: "other-ca",
        labels: {},
        capacity: 1,
        capabilities: ["shell"],
      }),
      grpc.status.UNAVAILABLE,
    );
    agents.close();
    assert.deepEqual(await agentsNamed("other-ca"), []);
    // Positive control: the farm CA works.
    await farm.client.listRuns({});
  });

  it("a plaintext client gets nowhere", async () => {
    const runs = createClient(RunService, farm.server.grpcAddress, {
      credentials: grpc.credentials.createInsecure(),
      metadata: bearer(farm.apiToken),
    });
    await failsWith(runs.listRuns({}, { timeoutMs: 5000 }), grpc.status.UNAVAILABLE, /No connection established/);
    runs.close();
    const pair = generateKeyPair();
    const agents = createAgentClient(
      farm.server.grpcAddress,
      grpc.credentials.createInsecure(),
      () => ({ agentId: "", sessionId: "" }),
      new CredentialSource(pair),
    );
    await failsWith(
      register(agents, pair, {
        joinToken: farm.joinToken,
        agentId: "",
        name: "plaintext",
        labels: {},
        capacity: 1,
        capabilities: ["shell"],
      }),
      grpc.status.UNAVAILABLE,
    );
    agents.close();
    assert.deepEqual(await agentsNamed("plaintext"), []);
  });

  it("RunService over TLS needs a valid API token", async () => {
    const credentials = clientTlsCredentials(farm.server.pki.caPem);
    const none = createClient(RunService, farm.server.grpcAddress, { credentials });
    await failsWith(none.listRuns({}), grpc.status.UNAUTHENTICATED, "missing 'authorization: Bearer <token>' metadata");
    none.close();
    for (const token of ["dya_wrong_token_0123456789", farm.joinToken]) {
      const wrong = createClient(RunService, farm.server.grpcAddress, { credentials, metadata: bearer(token) });
      await failsWith(wrong.listRuns({}), grpc.status.UNAUTHENTICATED, "API token is unknown or revoked");
      await failsWith(
        wrong.createJoinToken({ description: "sneaky" }),
        grpc.status.UNAUTHENTICATED,
        "API token is unknown or revoked",
      );
      wrong.close();
    }
    // Positive control: the farm's token.
    await farm.client.listRuns({});
  });

  describe("AgentService credentials", () => {
    /** A client that sends no credential unless a call passes one. */
    let bare: AgentClient;
    let pair: KeyPair;
    let agentId: string;
    let sessionId: string;
    before(async () => {
      pair = generateKeyPair();
      let session = { agentId: "", sessionId: "" };
      const credentials = clientTlsCredentials(farm.server.pki.caPem);
      const client = createAgentClient(farm.server.grpcAddress, credentials, () => session, new CredentialSource(pair));
      const accepted = await register(client, pair, {
        joinToken: farm.joinToken,
        agentId: "",
        name: "cred-check",
        labels: {},
        capacity: 1,
        capabilities: ["shell"],
      });
      ({ agentId, sessionId } = accepted);
      session = { agentId, sessionId };
      client.close();
      bare = createAgentClient(
        farm.server.grpcAddress,
        credentials,
        () => ({ agentId: "", sessionId: "" }),
        new CredentialSource(pair),
      );
    });
    after(() => bare?.close());

    const heartbeat = (credential?: string) =>
      bare.heartbeat(
        { runningAttemptIds: [], draining: false },
        credential === undefined ? {} : { metadata: agentAuth(credential) },
      );
    const inAMinute = () => Date.now() + 60_000;

    it("a credential signed with the agent's key for its session is accepted (the control)", async () => {
      await heartbeat(agentCredential(pair, { agentId, sessionId, expiresAtMs: inAMinute() }));
      await bare.pollAssignments(
        {},
        { metadata: agentAuth(agentCredential(pair, { agentId, sessionId, expiresAtMs: inAMinute() })) },
      );
    });

    it("no credential", async () => {
      await failsWith(
        heartbeat(),
        grpc.status.UNAUTHENTICATED,
        `missing 'authorization: ${AGENT_AUTH_SCHEME} <credential>' metadata; register first`,
      );
      await failsWith(
        bare.getAssignment({ attemptId: randomUUID() }),
        grpc.status.UNAUTHENTICATED,
        /missing 'authorization/,
      );
    });

    it("a garbage credential", async () => {
      await failsWith(heartbeat("garbage"), grpc.status.UNAUTHENTICATED, "malformed agent credential");
      await failsWith(
        heartbeat(`v1.${agentId}.${sessionId}.soon.c2ln`),
        grpc.status.UNAUTHENTICATED,
        "malformed agent credential",
      );
    });

    it("a credential signed by another key for a real agent id", async () => {
      const forged = agentCredential(generateKeyPair(), { agentId, sessionId, expiresAtMs: inAMinute() });
      await failsWith(
        heartbeat(forged),
        grpc.status.UNAUTHENTICATED,
        "agent credential signature does not match the agent's key",
      );
      // The attempt stream is refused the same way.
      const stream = bare.attemptStream({ metadata: agentAuth(forged) });
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        stream.on("error", resolve);
        stream.on("data", () => undefined);
      });
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.equal(err.details, "agent credential signature does not match the agent's key");
    });

    it("an expired credential, and one valid for too long", async () => {
      await failsWith(
        heartbeat(agentCredential(pair, { agentId, sessionId, expiresAtMs: Date.now() - 1000 })),
        grpc.status.UNAUTHENTICATED,
        "agent credential expired",
      );
      await failsWith(
        heartbeat(agentCredential(pair, { agentId, sessionId, expiresAtMs: Date.now() + 3600_000 })),
        grpc.status.UNAUTHENTICATED,
        "agent credential is valid for too long",
      );
    });

    it("a credential for an unknown agent, or another session", async () => {
      const stranger = randomUUID();
      await failsWith(
        heartbeat(agentCredential(pair, { agentId: stranger, sessionId, expiresAtMs: inAMinute() })),
        grpc.status.UNAUTHENTICATED,
        `unknown agent ${stranger}`,
      );
      await failsWith(
        heartbeat(agentCredential(pair, { agentId, sessionId: randomUUID(), expiresAtMs: inAMinute() })),
        grpc.status.UNAUTHENTICATED,
        "agent session is unknown or replaced: register again",
      );
    });
  });
});
