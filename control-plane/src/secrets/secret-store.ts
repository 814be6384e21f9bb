// The secret store: values sealed by the Keyring, one row per name. Only
// ciphertext reaches the database; no value reaches a log line or an error.
import { asc, eq, inArray, and, ne, sql } from "drizzle-orm";
import { SECRET_NAME_PATTERN } from "@dockyard/pipeline";
import type { Db, Tx } from "../store/db";
import { secrets, type SecretRefRow } from "../store/schema";
import { InvalidError, NotFoundError } from "../errors";
import { withTx } from "../store/tx";
import { audit, SERVER_ACTOR, type Actor } from "../store/audit";
import type { Keyring } from "./keyring";

/** Longest secret name (the pattern allows 1..63). */
export const SECRET_NAME_MAX = 63;
/** Shorter values could not be masked in logs without masking ordinary output. */
export const SECRET_VALUE_MIN_BYTES = 8;
export const SECRET_VALUE_MAX_BYTES = 64 * 1024;

/** What may be shown about a secret: never its value. */
export interface SecretInfo {
  name: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A decrypted value for one stage env variable (handed only to the attempt's agent). */
export interface SecretValue {
  env: string;
  value: Buffer;
  asFile: boolean;
}

/** What `rotate` did: rows re-sealed with the current key, and rows no configured key opens. */
export interface RotationResult {
  rotated: number;
  unreadable: { name: string; keyId: string }[];
}

/** Throws InvalidError unless `name` is a valid secret name (the message shows at most 64 characters of it). */
export function checkSecretName(name: string): string {
  if (name.length > SECRET_NAME_MAX) {
    throw new InvalidError(`secret name is ${name.length} characters; the limit is ${SECRET_NAME_MAX}`);
  }
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new InvalidError(
      `invalid secret name '${name}': use 1-${SECRET_NAME_MAX} of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return name;
}

/** Throws InvalidError for a value too short to mask or too large; the message never shows the value. */
export function checkSecretValue(value: Uint8Array): void {
  if (value.length < SECRET_VALUE_MIN_BYTES) {
    throw new InvalidError(
      `secrets shorter than ${SECRET_VALUE_MIN_BYTES} characters are refused: they cannot be masked in logs without masking ordinary output`,
    );
  }
  if (value.length > SECRET_VALUE_MAX_BYTES) {
    throw new InvalidError(
      `secret values are limited to ${SECRET_VALUE_MAX_BYTES / 1024} KiB (${SECRET_VALUE_MAX_BYTES} bytes)`,
    );
  }
}

/** `fn` inside the caller's transaction when there is one, else in a transaction of its own. */
function inTx<T>(db: Db, tx: Tx | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return tx ? fn(tx) : withTx(db, fn);
}

/**
 * Named secrets, sealed with AES-256-GCM under the secret's name as AAD. Every method may
 * run concurrently (each is one statement, or per-row conditional updates in `rotate`).
 * Throws InvalidError for bad names or values and NotFoundError (kind `secret`) for a
 * missing name; decryption failures are DockyardErrors with code `internal`.
 */
export class SecretStore {
  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
  ) {}

  /**
   * Creates or replaces the value; `created` tells which. Inside `tx` when given (a change that stores its credential
   * with it).
   */
  async set(
    name: string,
    value: Uint8Array,
    now: Date,
    actor: Actor = SERVER_ACTOR,
    tx?: Tx,
  ): Promise<{ info: SecretInfo; created: boolean }> {
    checkSecretName(name);
    checkSecretValue(value);
    const sealed = this.keyring.seal(value, name);
    return inTx(this.db, tx, async (tx) => {
      const [row] = await tx
        .insert(secrets)
        .values({ name, ...sealed, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({
          target: secrets.name,
          set: { keyId: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext, updatedAt: now },
        })
        // xmax is 0 on a freshly inserted row version and set on one written by the update branch.
        .returning({ createdAt: secrets.createdAt, updatedAt: secrets.updatedAt, inserted: sql<boolean>`(xmax = 0)` });
      if (!row) throw new Error(`secret upsert of '${name}' returned no row`);
      // Never the value, nor its ciphertext: only that it changed.
      await audit(tx, { actor, action: "secret.set", target: name, details: { created: row.inserted }, at: now });
      return { info: { name, createdAt: row.createdAt, updatedAt: row.updatedAt }, created: row.inserted };
    });
  }

  /** Every secret by name; values are not even read. */
  async list(): Promise<SecretInfo[]> {
    return this.db
      .select({ name: secrets.name, createdAt: secrets.createdAt, updatedAt: secrets.updatedAt })
      .from(secrets)
      .orderBy(asc(secrets.name));
  }

  /**
   * Deletes the secret (inside `tx` when given); throws NotFoundError when there is none. Runs already submitted that
   * use it will error.
   */
  async remove(name: string, now: Date, actor: Actor = SERVER_ACTOR, tx?: Tx): Promise<void> {
    checkSecretName(name);
    await inTx(this.db, tx, async (tx) => {
      const rows = await tx.delete(secrets).where(eq(secrets.name, name)).returning({ name: secrets.name });
      if (rows.length === 0) throw new NotFoundError("secret", name);
      await audit(tx, { actor, action: "secret.removed", target: name, at: now });
    });
  }

  /** The names among `names` that have no secret (deduplicated, in the given order). */
  /** `db`: a caller's transaction, when it holds one (embedded PGlite has a single connection). */
  async missing(names: string[], db: Db | Tx = this.db): Promise<string[]> {
    const wanted = [...new Set(names)];
    if (wanted.length === 0) return [];
    const rows = await db.select({ name: secrets.name }).from(secrets).where(inArray(secrets.name, wanted));
    const found = new Set(rows.map((r) => r.name));
    return wanted.filter((n) => !found.has(n));
  }

  /**
   * Decrypted values for a stage's references, in their order; NotFoundError names a secret deleted since the submit.
   */
  async values(refs: SecretRefRow[]): Promise<SecretValue[]> {
    if (refs.length === 0) return [];
    const names = [...new Set(refs.map((r) => r.secret))];
    const rows = await this.db.select().from(secrets).where(inArray(secrets.name, names));
    const byName = new Map(rows.map((r) => [r.name, r]));
    return refs.map((ref) => {
      const row = byName.get(ref.secret);
      if (!row) throw new NotFoundError("secret", ref.secret);
      return { env: ref.env, value: this.keyring.open(row, row.name), asFile: ref.asFile };
    });
  }

  /** Every value the store holds, decrypted: what notifications mask (a value never leaves in a message). */
  async allValues(): Promise<string[]> {
    const rows = await this.db.select().from(secrets);
    return rows.filter((r) => this.keyring.has(r.keyId)).map((r) => this.keyring.open(r, r.name).toString("utf8"));
  }

  /** One decrypted value (read through `tx` when given); NotFoundError when there is none. */
  async value(name: string, tx?: Tx): Promise<Buffer> {
    const [row] = await (tx ?? this.db).select().from(secrets).where(eq(secrets.name, name));
    if (!row) throw new NotFoundError("secret", name);
    return this.keyring.open(row, row.name);
  }

  /**
   * Re-seals with the current key every row sealed with an older one (called at server start,
   * after the current key changed). A row changed meanwhile by `set` or another replica's
   * rotation is left alone (the update is conditional on the old key id and nonce). Rows no configured
   * key opens are reported, not changed.
   */
  async rotate(): Promise<RotationResult> {
    const current = this.keyring.currentKeyId;
    const stale = await this.db.select().from(secrets).where(ne(secrets.keyId, current)).orderBy(asc(secrets.name));
    const result: RotationResult = { rotated: 0, unreadable: [] };
    for (const row of stale) {
      if (!this.keyring.has(row.keyId)) {
        result.unreadable.push({ name: row.name, keyId: row.keyId });
        continue;
      }
      const sealed = this.keyring.seal(this.keyring.open(row, row.name), row.name);
      const updated = await this.db
        .update(secrets)
        .set({ keyId: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext })
        .where(and(eq(secrets.name, row.name), eq(secrets.keyId, row.keyId), eq(secrets.nonce, row.nonce)))
        .returning({ name: secrets.name });
      result.rotated += updated.length;
    }
    return result;
  }
}
