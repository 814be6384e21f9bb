// Agent registration by hand, for the agent-identity tests (identity.test.ts,
// identity-revoke.test.ts): a RegisterRequest a test can tamper with, a client without a
// session to send it, the refusal it gets, and the agents a name has in the database.
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  create,
  clientTlsCredentials,
  generateKeyPair,
  joinProof,
  joinTokenHash,
  signRegistration,
  PROTOCOL_VERSION,
  RegisterRequestSchema,
  type KeyPair,
  type RegisterRequest,
  type RegisterRefused,
} from "@dockyard/proto";
import { CredentialSource, createAgentClient, type AgentClient } from "@dockyard/agent";
import { startFarm, type Farm } from "./farm";

/** A RegisterRequest built by hand, so a test can tamper with any part of it. */
export function registerRequest(
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

/** An AgentService client without a session: Register needs none. The caller closes it. */
export function anonymousClient(farm: Farm): AgentClient {
  return createAgentClient(
    farm.server.grpcAddress,
    clientTlsCredentials(farm.server.pki.caPem),
    () => ({ agentId: "", sessionId: "" }),
    new CredentialSource(generateKeyPair()),
  );
}

/** Sends `req` on `anon`; the refusal it must get. */
export async function refusalOf(anon: AgentClient, req: RegisterRequest): Promise<RegisterRefused> {
  const res = await anon.register(req);
  assert.equal(res.result.case, "refused", `expected a refusal, got ${res.result.case}`);
  return res.result.value as RegisterRefused;
}

/** The farm's agents registered as `name`, oldest first. */
export async function agentsNamedIn(farm: Farm, name: string) {
  return (
    await farm.pg.query<{ id: string; state: string; session_id: string; public_key: string }>(
      "SELECT id, state, session_id, public_key FROM agents WHERE name = $1 ORDER BY registered_at",
      [name],
    )
  ).rows;
}

/**
 * The setup of an agent-identity suite, registered on the calling describe: a farm, and an
 * AgentService client without a session (Register needs none). Read `farm` in tests or hooks.
 */
export function identitySuite() {
  const ctx: { farm?: Farm; anon?: AgentClient } = {};
  before(async () => {
    ctx.farm = await startFarm();
    ctx.anon = anonymousClient(ctx.farm);
  });
  after(async () => {
    ctx.anon?.close();
    await ctx.farm?.stop();
  });
  return {
    get farm(): Farm {
      return ctx.farm!;
    },
    /** The AgentService client without a session. */
    get anon(): AgentClient {
      return ctx.anon!;
    },
    refusal: (req: RegisterRequest) => refusalOf(ctx.anon!, req),
    agentsNamed: (name: string) => agentsNamedIn(ctx.farm!, name),
  };
}
