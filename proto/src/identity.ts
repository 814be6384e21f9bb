// Agent identity and the server's signatures, shared by both sides of the wire:
// the registration proof, the agent's call credential, signed server notices
// (NATS) and sealed farm messages (NATS, between server replicas). Node's
// crypto only: Ed25519 for signatures, HMAC-SHA256 for the join proof,
// AES-256-GCM for sealing.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
} from "node:crypto";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ServerNoticeSchema, SignedSchema, type ServerNotice } from "./gen/dockyard/v1/agent_pb";

/** An Ed25519 key pair; `publicRaw` is the 32-byte public key sent on the wire. */
export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicRaw: Uint8Array;
}

// An Ed25519 SubjectPublicKeyInfo is this 12-byte DER prefix plus the 32 raw bytes.
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicKey, publicRaw: rawPublicKey(publicKey) };
}

/** A key pair from a PKCS#8 PEM private key (as written by `privateKeyPem`). */
export function keyPairFromPem(pem: string): KeyPair {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== "ed25519") throw new Error("expected an Ed25519 private key");
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicRaw: rawPublicKey(publicKey) };
}

export function privateKeyPem(pair: KeyPair): string {
  return pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** The public key object of 32 raw Ed25519 bytes; throws on anything else. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`an Ed25519 public key has 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** Hex SHA-256 of a join token's secret part: what the server stores, and the join proof's HMAC key. */
export function joinTokenHash(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/**
 * A printed join token is `<secret>.<CA fingerprint, 64 hex>`: the agent pins the
 * server's CA by the fingerprint on first contact (as `kubeadm join` does with
 * its CA hash). A token without the suffix needs the CA another way.
 */
export function splitJoinToken(token: string): { secret: string; caFingerprint: string | null } {
  const m = /^(.+)\.([0-9a-f]{64})$/.exec(token.trim());
  return m ? { secret: m[1]!, caFingerprint: m[2]! } : { secret: token.trim(), caFingerprint: null };
}

export interface RegistrationClaims {
  agentId: string;
  name: string;
  publicKey: Uint8Array;
  nonce: Uint8Array;
  timestampMs: bigint;
}

/** The bytes the join proof and the key signature cover. */
export function registrationPayload(c: RegistrationClaims): Buffer {
  return Buffer.from(
    [
      "dockyard-register-v1",
      c.agentId,
      c.name,
      Buffer.from(c.publicKey).toString("hex"),
      Buffer.from(c.nonce).toString("hex"),
      c.timestampMs.toString(),
    ].join("\n"),
  );
}

export function joinProof(tokenHash: string, c: RegistrationClaims): Uint8Array {
  return createHmac("sha256", tokenHash).update(registrationPayload(c)).digest();
}

export function checkJoinProof(tokenHash: string, c: RegistrationClaims, proof: Uint8Array): boolean {
  const expected = joinProof(tokenHash, c);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

export function signRegistration(pair: KeyPair, c: RegistrationClaims): Uint8Array {
  return sign(null, registrationPayload(c), pair.privateKey);
}

export function checkRegistrationSignature(c: RegistrationClaims, signature: Uint8Array): boolean {
  try {
    return verify(null, registrationPayload(c), publicKeyFromRaw(c.publicKey), signature);
  } catch {
    return false;
  }
}

/** The metadata scheme of agent calls: `authorization: Dockyard-Agent <credential>`. */
export const AGENT_AUTH_SCHEME = "Dockyard-Agent";

export interface AgentCredential {
  agentId: string;
  sessionId: string;
  expiresAtMs: number;
}

const credentialPayload = (c: AgentCredential): Buffer =>
  Buffer.from(`dockyard-agent-v1\n${c.agentId}\n${c.sessionId}\n${c.expiresAtMs}`);

/** `v1.<agentId>.<sessionId>.<expiresAtMs>.<signature, base64url>`; only sent over TLS. */
export function agentCredential(pair: KeyPair, c: AgentCredential): string {
  const sig = sign(null, credentialPayload(c), pair.privateKey).toString("base64url");
  return `v1.${c.agentId}.${c.sessionId}.${c.expiresAtMs}.${sig}`;
}

/** The claims of a credential, unchecked (the caller looks up the agent's key, then calls checkCredential). */
export function parseCredential(text: string): (AgentCredential & { signature: Buffer }) | null {
  const parts = text.split(".");
  if (parts.length !== 5 || parts[0] !== "v1" || text.length > 512) return null;
  const expiresAtMs = Number(parts[3]);
  if (!Number.isSafeInteger(expiresAtMs)) return null;
  return { agentId: parts[1]!, sessionId: parts[2]!, expiresAtMs, signature: Buffer.from(parts[4]!, "base64url") };
}

export function checkCredential(c: AgentCredential & { signature: Buffer }, publicKey: KeyObject): boolean {
  try {
    return verify(null, credentialPayload(c), publicKey, c.signature);
  } catch {
    return false;
  }
}

/** How long a notice the server sends is valid. */
export const NOTICE_TTL_MS = 30_000;

export type NoticeBody = MessageInitShape<typeof ServerNoticeSchema>["body"];

/** A signed ServerNotice for `agentId` ("" = broadcast), valid NOTICE_TTL_MS from `nowMs`. */
export function signNotice(key: KeyObject, agentId: string, body: NoticeBody, nowMs = Date.now()): Uint8Array {
  const notice = create(ServerNoticeSchema, {
    agentId,
    expiresAtMs: BigInt(nowMs + NOTICE_TTL_MS),
    nonce: randomBytes(16),
    body,
  });
  const payload = toBinary(ServerNoticeSchema, notice);
  return toBinary(SignedSchema, create(SignedSchema, { payload, signature: sign(null, payload, key) }));
}

/** Why a notice was refused, or the notice. Never throws. */
export function openNotice(
  serverKey: KeyObject,
  data: Uint8Array,
): { ok: true; notice: ServerNotice } | { ok: false; why: string } {
  let signed;
  try {
    signed = fromBinary(SignedSchema, data);
  } catch {
    return { ok: false, why: "not a dockyard.v1.Signed message" };
  }
  let good = false;
  try {
    good = verify(null, signed.payload, serverKey, signed.signature);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, why: "bad signature" };
  try {
    return { ok: true, notice: fromBinary(ServerNoticeSchema, signed.payload) };
  } catch {
    return { ok: false, why: "signed payload is not a ServerNotice" };
  }
}

/**
 * Remembers the nonces of accepted notices until they expire, so a replayed
 * notice is refused. Bounded: at most `max` live nonces (a flood of genuine
 * notices is not something an attacker can produce).
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = 100_000) {}

  /** True the first time a nonce is offered before `expiresAtMs`; false for a replay or an expired notice. */
  accept(nonce: Uint8Array, expiresAtMs: number, nowMs = Date.now()): boolean {
    if (expiresAtMs <= nowMs || expiresAtMs > nowMs + 2 * NOTICE_TTL_MS || nonce.length < 8) return false;
    const key = Buffer.from(nonce).toString("base64");
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.max) this.prune(nowMs);
    if (this.seen.size >= this.max) return false;
    this.seen.set(key, expiresAtMs);
    return true;
  }

  private prune(nowMs: number): void {
    for (const [k, exp] of this.seen) if (exp <= nowMs) this.seen.delete(k);
  }
}

/**
 * AES-256-GCM with the farm key shared by the server replicas, for what they
 * tell each other over NATS (run events, scheduler kicks): agents and other
 * NATS clients can neither read nor forge it. The subject is bound as AAD, so
 * a message cannot be replayed onto another subject. Layout: 1 version byte,
 * 12 nonce bytes, ciphertext, 16 tag bytes.
 */
export class FarmSealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error(`the farm key must be 32 bytes, got ${key.length}`);
  }

  seal(subject: string, plain: Uint8Array): Uint8Array {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(subject));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([1]), iv, body, cipher.getAuthTag()]);
  }

  /** The plaintext, or null when the message was not sealed with this key for this subject. */
  open(subject: string, data: Uint8Array): Uint8Array | null {
    if (data.length < 29 || data[0] !== 1) return null;
    try {
      const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
      const decipher = createDecipheriv("aes-256-gcm", this.key, buf.subarray(1, 13));
      decipher.setAAD(Buffer.from(subject));
      decipher.setAuthTag(buf.subarray(buf.length - 16));
      return Buffer.concat([decipher.update(buf.subarray(13, buf.length - 16)), decipher.final()]);
    } catch {
      return null;
    }
  }
}
