// AgentService.Register: check an agent's proof of a join token and of its own
// key, then (re)register it. The request arrives over TLS, and still carries no
// token: the proof is an HMAC keyed by the token's hash (which the server
// stores), bound to the agent's public key, a nonce and a timestamp, so even a
// captured request proves nothing twice.
import {
  create,
  RegisterResponseSchema,
  PROTOCOL_VERSION,
  MIN_AGENT_PROTOCOL_VERSION,
  releaseVersionText,
  checkJoinProof,
  checkRegistrationSignature,
  type RegisterRequest,
  type RegisterResponse,
} from "@dockyard/proto";
import { LABEL_KEY_PATTERN, LABEL_KEY_RULE } from "@dockyard/pipeline";
import type { Logger } from "pino";
import type { Db } from "../../store/db";
import type { Clock } from "../../clock";
import { liveJoinTokens, registerAgent, useNonce } from "../../store/agents";
import { touchToken } from "../../store/tokens";
import { DockyardError } from "../../errors";
import { KNOWN_CAPABILITIES } from "../../stages";

export interface SessionTimings {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  agentPollIntervalMs: number;
}

/** How far a registration's timestamp may be from the server's clock. */
export const REGISTRATION_WINDOW_MS = 60_000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether this server serves an agent of `protocol`: its own or one behind (agents are upgraded after it). */
export function acceptsProtocol(protocol: number): boolean {
  return protocol >= MIN_AGENT_PROTOCOL_VERSION && protocol <= PROTOCOL_VERSION;
}

/** Why an agent's protocol is refused, naming both sides' protocol and release versions. */
export function protocolRefusal(req: Pick<RegisterRequest, "protocolVersion" | "version">): string {
  const agent = `agent ${req.version.slice(0, 64) || "(version not given)"} speaks protocol ${req.protocolVersion}`;
  const server = `server ${releaseVersionText()} speaks protocol ${PROTOCOL_VERSION} and accepts ${MIN_AGENT_PROTOCOL_VERSION} to ${PROTOCOL_VERSION}`;
  const fix = req.protocolVersion < MIN_AGENT_PROTOCOL_VERSION ? "upgrade the agent" : "upgrade the server first";
  return `${agent}; ${server}: ${fix}`;
}

/** Every problem with the shape of a registration request, empty when it is acceptable. */
export function registrationProblems(req: RegisterRequest, known: ReadonlySet<string> = KNOWN_CAPABILITIES): string[] {
  const problems: string[] = [];
  if (!acceptsProtocol(req.protocolVersion)) problems.push(protocolRefusal(req));
  if (!NAME.test(req.name)) problems.push(`name '${req.name.slice(0, 64)}' must match ${NAME.source}`);
  if (req.agentId && !UUID.test(req.agentId)) problems.push("agent_id must be a UUID");
  if (req.capacity < 1 || req.capacity > 256) problems.push(`capacity ${req.capacity} must be between 1 and 256`);
  const labels = Object.entries(req.labels);
  if (labels.length > 32) problems.push(`${labels.length} labels; at most 32 are allowed`);
  for (const [k, v] of labels.slice(0, 32)) {
    if (!LABEL_KEY_PATTERN.test(k)) problems.push(`label key '${k.slice(0, 64)}' must be ${LABEL_KEY_RULE}`);
    if (v.length > 128) problems.push(`label '${k}' value is longer than 128 characters`);
  }
  const unknown = req.capabilities.filter((c) => !known.has(c));
  if (req.capabilities.length === 0 || req.capabilities.length > 8) {
    problems.push(`capabilities must be 1 to 8 of ${[...known].join(", ")}; got ${req.capabilities.length}`);
  } else if (unknown.length > 0) {
    problems.push(
      `unknown capabilities [${unknown.map((c) => c.slice(0, 32)).join(", ")}]: this server's stage kinds know ${[...known].join(", ")}`,
    );
  }
  if (req.hostname.length > 253 || req.version.length > 64) problems.push("hostname or version is too long");
  if (req.publicKey.length !== 32)
    problems.push(`public_key must be a 32-byte Ed25519 key, got ${req.publicKey.length} bytes`);
  if (req.nonce.length < 16 || req.nonce.length > 64)
    problems.push(`nonce must be 16 to 64 bytes, got ${req.nonce.length}`);
  if (req.joinProof.length !== 32) problems.push("join_proof must be an HMAC-SHA256 (32 bytes)");
  if (req.keySignature.length !== 64) problems.push("key_signature must be an Ed25519 signature (64 bytes)");
  return problems;
}

export interface RegistrationDeps {
  db: Db;
  clock: Clock;
  timings: SessionTimings;
  /** The server signing key's raw public bytes, handed to the agent. */
  serverSigningKey: Uint8Array;
  log: Logger;
}

export function handleRegistration(deps: RegistrationDeps) {
  const { db, clock, timings, log } = deps;
  return async (req: RegisterRequest): Promise<RegisterResponse> => {
    const refuse = (code: string, message: string) => {
      // Never the token or the proof: the agent id (claimed), its name and why.
      log.warn(
        { agentId: req.agentId || null, name: req.name.slice(0, 64), code, reason: message },
        "agent registration refused",
      );
      return create(RegisterResponseSchema, { result: { case: "refused", value: { code, message } } });
    };
    const problems = registrationProblems(req);
    if (problems.length > 0)
      return refuse(acceptsProtocol(req.protocolVersion) ? "invalid" : "protocol_mismatch", problems.join("; "));
    const now = clock.now();
    const skew = Number(req.timestampMs) - now.getTime();
    if (Math.abs(skew) > REGISTRATION_WINDOW_MS) {
      return refuse(
        "unauthenticated",
        `registration timestamp is ${Math.round(skew / 1000)} s from the server's clock (at most ${REGISTRATION_WINDOW_MS / 1000} s): check the clocks`,
      );
    }
    const claims = {
      agentId: req.agentId,
      name: req.name,
      publicKey: req.publicKey,
      nonce: req.nonce,
      timestampMs: req.timestampMs,
    };
    if (!checkRegistrationSignature(claims, req.keySignature))
      return refuse("unauthenticated", "the key signature does not match the public key");
    const token = (await liveJoinTokens(db)).find((t) => checkJoinProof(t.tokenHash, claims, req.joinProof));
    if (!token) return refuse("unauthenticated", "the join proof matches no live join token (wrong or revoked token)");
    // After the proofs, so only a genuine (but replayed) request uses up a nonce.
    const expires = new Date(now.getTime() + 2 * REGISTRATION_WINDOW_MS);
    if (!(await useNonce(db, Buffer.from(req.nonce).toString("hex"), expires, now))) {
      return refuse("unauthenticated", "this registration was seen before (replayed nonce)");
    }
    try {
      const { agentId, sessionId } = await registerAgent(
        db,
        {
          joinTokenId: token.id,
          agentId: req.agentId,
          publicKey: Buffer.from(req.publicKey).toString("hex"),
          name: req.name,
          hostname: req.hostname,
          labels: req.labels,
          capacity: req.capacity,
          capabilities: req.capabilities,
          version: req.version,
        },
        now,
      );
      log.info(
        {
          agentId,
          name: req.name,
          joinTokenId: token.id,
          labels: req.labels,
          capacity: req.capacity,
          version: req.version,
          protocolVersion: req.protocolVersion,
        },
        "agent registered",
      );
      await touchToken(db, "join", token.id, now);
      return create(RegisterResponseSchema, {
        result: {
          case: "accepted",
          value: {
            agentId,
            sessionId,
            serverSigningKey: deps.serverSigningKey,
            heartbeatIntervalMs: BigInt(timings.heartbeatIntervalMs),
            leaseTtlMs: BigInt(timings.leaseTtlMs),
            pollIntervalMs: BigInt(timings.agentPollIntervalMs),
          },
        },
      });
    } catch (err) {
      if (err instanceof DockyardError) return refuse(err.code, err.message);
      throw err;
    }
  };
}
