// HMAC signing of the NATS messages that make an agent act (see Signed in agent.proto).
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SignedSchema } from "./gen/dockyard/v1/agent_pb";

/** The signing key of a session: hex SHA-256 of its token (what the server stores). */
export function sessionKey(sessionToken: string): string {
  return createHash("sha256").update(sessionToken).digest("hex");
}

export function signPayload(key: string, payload: Uint8Array): Uint8Array {
  const signature = createHmac("sha256", key).update(payload).digest();
  return toBinary(SignedSchema, create(SignedSchema, { payload, signature }));
}

/** The payload when the signature holds under `key`, else null. Throws nothing. */
export function verifyPayload(key: string, data: Uint8Array): Uint8Array | null {
  try {
    const signed = fromBinary(SignedSchema, data);
    const expected = createHmac("sha256", key).update(signed.payload).digest();
    if (signed.signature.length !== expected.length || !timingSafeEqual(signed.signature, expected)) return null;
    return signed.payload;
  } catch {
    return null;
  }
}
