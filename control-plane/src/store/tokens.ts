// Join tokens (agents) and API tokens (clients). Only hashes are stored.
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { splitJoinToken } from "@dockyard/proto";
import type { Db } from "./db";
import { apiTokens, joinTokens } from "./schema";
import { hashSecret, newId, newSecret } from "../ids";
import { NotFoundError, UnauthenticatedError } from "../errors";

export async function createJoinToken(db: Db, description: string, now: Date, token = newSecret("dyj_")) {
  const id = newId();
  await db
    .insert(joinTokens)
    .values({ id, tokenHash: hashSecret(token), description, createdAt: now })
    .onConflictDoNothing();
  return { id, token };
}

/** An API token standing for `description` (callerOf reads it as the user's name); returns the secret. Tests and operators. */
export async function createApiToken(db: Db, description: string, now: Date, token = newSecret("dya_")): Promise<string> {
  await db.insert(apiTokens).values({ id: newId(), tokenHash: hashSecret(token), description, createdAt: now });
  return token;
}

export async function revokeJoinToken(db: Db, id: string, now: Date): Promise<void> {
  const rows = await db.update(joinTokens).set({ revokedAt: now }).where(eq(joinTokens.id, id)).returning({ id: joinTokens.id });
  if (rows.length === 0) throw new NotFoundError("join token", id);
}

/** Make sure a configured secret exists as a (non-revoked unless revoked later) token. */
export async function ensureToken(db: Db, kind: "join" | "api", token: string, description: string, now: Date): Promise<void> {
  const table = kind === "join" ? joinTokens : apiTokens;
  // A configured join token may carry the CA fingerprint (`<secret>.<fingerprint>`): only the secret is hashed.
  const secret = kind === "join" ? splitJoinToken(token).secret : token;
  await db
    .insert(table)
    .values({ id: newId(), tokenHash: hashSecret(secret), description, createdAt: now })
    .onConflictDoNothing();
}

export async function countApiTokens(db: Db): Promise<number> {
  const rows = await db.select({ id: apiTokens.id }).from(apiTokens).where(isNull(apiTokens.revokedAt));
  return rows.length;
}

export async function authenticateApi(db: Db, token: string): Promise<string> {
  const [row] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.tokenHash, hashSecret(token)), isNull(apiTokens.revokedAt)));
  if (!row) throw new UnauthenticatedError("API token is unknown or revoked");
  return row.id;
}

/** A join or API token as listed: never its secret nor its hash. */
export interface TokenInfo {
  id: string;
  kind: "join" | "api";
  description: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Every token of both kinds, join tokens first, oldest first within a kind. */
export async function listTokens(db: Db): Promise<TokenInfo[]> {
  const cols = (t: typeof joinTokens | typeof apiTokens) => ({
    id: t.id,
    description: t.description,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
  });
  const join = await db.select(cols(joinTokens)).from(joinTokens).orderBy(joinTokens.createdAt);
  const api = await db.select(cols(apiTokens)).from(apiTokens).orderBy(apiTokens.createdAt);
  return [...join.map((t) => ({ ...t, kind: "join" as const })), ...api.map((t) => ({ ...t, kind: "api" as const }))];
}

/** Record that a token was accepted at `now`, unless a use within the last `everyMs` is already recorded. */
export async function touchToken(db: Db, kind: "join" | "api", id: string, now: Date, everyMs = 60_000): Promise<void> {
  const t = kind === "join" ? joinTokens : apiTokens;
  await db
    .update(t)
    .set({ lastUsedAt: now })
    .where(and(eq(t.id, id), or(isNull(t.lastUsedAt), lt(t.lastUsedAt, new Date(now.getTime() - everyMs)))));
}
