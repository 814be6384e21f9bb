// The secret-store keys: AES-256-GCM, one current key that seals, older keys
// that only open (rotation). Keys live in files, never in the database.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";
import { DockyardError } from "../errors";

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_TEXT = /^[0-9a-fA-F]{64}$/;

/** What the store keeps for one value: which key sealed it, the GCM nonce, ciphertext || tag. */
export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export interface KeyringOptions {
  /** The current key: seals every new value. Created (32 random bytes, hex, mode 0600) when missing. */
  keyFile: string;
  /** Previous keys: open values sealed before a rotation; never seal. Must exist. */
  oldKeyFiles?: string[];
}

/** A key file that is unreadable or does not hold a 32-byte key; the message names the file. */
export class KeyFileError extends DockyardError {
  constructor(
    readonly file: string,
    why: string,
    options?: { cause?: unknown },
  ) {
    super("invalid", `secret key file ${file}: ${why}`, options);
  }
}

/** keyId: the first 16 hex digits of SHA-256(key); names a key without revealing it. */
export function keyIdOf(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/**
 * Seals and opens secret values. The AAD (the secret's name) binds a ciphertext to its row:
 * moved to another name it no longer opens. Immutable after construction; safe to share.
 * Errors name secrets and key ids only, never a value.
 */
export class Keyring {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  constructor(current: Buffer, old: Buffer[] = []) {
    for (const k of [current, ...old]) {
      if (k.length !== KEY_BYTES) throw new DockyardError("invalid", `a secret key must be ${KEY_BYTES} bytes`);
    }
    this.currentKeyId = keyIdOf(current);
    this.keys.set(this.currentKeyId, current);
    for (const k of old) if (!this.keys.has(keyIdOf(k))) this.keys.set(keyIdOf(k), k);
  }

  /** Ids of every key that can open (the current one first). */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  has(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Encrypts with the current key and a fresh random nonce. */
  seal(plaintext: Uint8Array, aad: string): SealedSecret {
    const key = this.keys.get(this.currentKeyId)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { keyId: this.currentKeyId, nonce, ciphertext };
  }

  /** Decrypts and authenticates; throws (code `internal`) for an unknown key or a failed check. */
  open(row: SealedSecret, aad: string): Buffer {
    const key = this.keys.get(row.keyId);
    if (!key) {
      throw new DockyardError(
        "internal",
        `secret '${aad}' was sealed with key ${row.keyId}, which is not configured (add its file to DOCKYARD_SECRET_OLD_KEY_FILES)`,
      );
    }
    if (row.nonce.length !== NONCE_BYTES || row.ciphertext.length < TAG_BYTES) {
      throw new DockyardError("internal", `secret '${aad}' is malformed in the database`);
    }
    const decipher = createDecipheriv("aes-256-gcm", key, row.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(row.ciphertext.subarray(row.ciphertext.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(row.ciphertext.subarray(0, row.ciphertext.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (err) {
      throw new DockyardError(
        "internal",
        `secret '${aad}' failed authentication with key ${row.keyId} (tampered, or moved from another name)`,
        { cause: err },
      );
    }
  }
}

/**
 * Loads the keyring from files; creates the current key file when it is missing (parent
 * directory 0700, file 0600, written exclusively so concurrent starts agree on one key).
 * Throws KeyFileError naming the file for a bad or unreadable file, or a missing old key.
 */
export function loadKeyring(opts: KeyringOptions, log?: Logger): Keyring {
  const current = readKeyFile(opts.keyFile, { create: true, log });
  const old = (opts.oldKeyFiles ?? []).map((f) => readKeyFile(f, { create: false, log }));
  return new Keyring(current, old);
}

function readKeyFile(file: string, opts: { create: boolean; log?: Logger }): Buffer {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT" || !opts.create)
      throw new KeyFileError(file, `cannot read it: ${reason(err)}`, { cause: err });
    text = createKeyFile(file, opts.log);
  }
  const trimmed = text.trim();
  if (!KEY_TEXT.test(trimmed)) {
    throw new KeyFileError(
      file,
      `does not hold a ${KEY_BYTES}-byte key (expected 64 hex digits, e.g. from 'openssl rand -hex 32')`,
    );
  }
  warnIfShared(file, opts.log);
  return Buffer.from(trimmed, "hex");
}

/** Writes a new random key; if another process created the file first, uses that one. */
function createKeyFile(file: string, log?: Logger): string {
  const text = `${randomBytes(KEY_BYTES).toString("hex")}\n`;
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, text, { mode: 0o600, flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8");
    throw new KeyFileError(file, `cannot create it: ${reason(err)}`, { cause: err });
  }
  log?.warn(
    { file, keyId: keyIdOf(Buffer.from(text.trim(), "hex")) },
    "secret key created; back it up: without it stored secrets cannot be read",
  );
  return text;
}

function warnIfShared(file: string, log?: Logger): void {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat && (stat.mode & 0o077) !== 0)
    log?.warn({ file }, "secret key file is readable by group or others; chmod 600 it");
}

function reason(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return err instanceof Error ? err.message : String(err);
}
