// Registration over gRPC/TLS: prove the join token (an HMAC keyed by its hash)
// and the agent's key (a signature), never sending either secret.
import os from "node:os";
import { randomBytes } from "node:crypto";
import {
  joinProof,
  joinTokenHash,
  PROTOCOL_VERSION,
  releaseVersionText,
  signRegistration,
  type KeyPair,
  type RegisterAccepted,
} from "@dockyard/proto";
import type { AgentClient } from "./agent-client";

export class RegistrationRefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`registration refused (${code}): ${message}`);
  }
}

export interface RegisterParams {
  joinToken: string;
  agentId: string;
  name: string;
  labels: Record<string, string>;
  capacity: number;
  capabilities: string[];
  /** Default PROTOCOL_VERSION; a test may make the agent claim another (AgentConfig.protocolVersion). */
  protocolVersion?: number;
}

/**
 * The version the agent reports: its release and commit; an agent that claims another protocol
 * (DOCKYARD_TEST_PROTOCOL_VERSION, tests only) says so, so the server never shows it as a real release.
 */
export function reportedVersion(protocolVersion: number): string {
  const release = releaseVersionText();
  return protocolVersion === PROTOCOL_VERSION ? release : `${release} (test: protocol ${protocolVersion})`;
}

/** One registration; throws RegistrationRefusedError (final) or a transport error (retryable). */
export async function register(client: AgentClient, pair: KeyPair, p: RegisterParams): Promise<RegisterAccepted> {
  const claims = {
    agentId: p.agentId,
    name: p.name,
    publicKey: pair.publicRaw,
    nonce: randomBytes(16),
    timestampMs: BigInt(Date.now()),
  };
  const res = await client.register(
    {
      ...claims,
      hostname: os.hostname(),
      labels: p.labels,
      capacity: p.capacity,
      protocolVersion: p.protocolVersion ?? PROTOCOL_VERSION,
      capabilities: p.capabilities,
      version: reportedVersion(p.protocolVersion ?? PROTOCOL_VERSION),
      joinProof: joinProof(joinTokenHash(p.joinToken), claims),
      keySignature: signRegistration(pair, claims),
    },
    { timeoutMs: 5000 },
  );
  if (res.result.case === "accepted") return res.result.value;
  if (res.result.case === "refused")
    throw new RegistrationRefusedError(res.result.value.code, res.result.value.message);
  throw new Error("empty registration response");
}
