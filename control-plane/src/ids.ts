import { randomBytes, randomUUID, createHash } from "node:crypto";

/** Ids are UUIDv4 strings: unguessable and safe to show. */
export const newId = (): string => randomUUID();

/** A bearer secret with a readable prefix (`dyj_` join, `dys_` session, `dya_` api). */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(24).toString("base64url")}`;
}

/** Secrets are stored only as SHA-256 hashes. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}
