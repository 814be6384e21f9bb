// Join tokens (agents) and API tokens (clients). Only hashes are stored.
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { splitJoinToken } from "@dockyard/proto";
import type { Db } from "./db";
import { apiTokens, joinTokens, users } from "./schema";
import { hashSecret, newId, newSecret } from "../ids";
import { ConflictError, NotFoundError, UnauthenticatedError } from "../errors";
import { withTx } from "./tx";
import { revokeAgentsOfToken } from "./agents";
import { checkUserName } from "./users";
import { audit, type Actor } from "./audit";

export async function createJoinToken(db: Db, description: string, actor: Actor, now: Date) {
  const id = newId();
  const token = newSecret("dyj_");
  await withTx(db, async (tx) => {
    await tx.insert(joinTokens).values({ id, tokenHash: hashSecret(token), description, createdAt: now });
    await audit(tx, { actor, action: "token.created", target: id, details: { kind: "join", description }, at: now });
  });
  return { id, token };
}

/** Revoke a join token and every agent registered with it, in one transaction; returns the agents' ids. */
export async function revokeJoinToken(db: Db, id: string, actor: Actor, now: Date): Promise<string[]> {
  return withTx(db, async (tx) => {
    const rows = await tx
      .update(joinTokens)
      .set({ revokedAt: now })
      .where(eq(joinTokens.id, id))
      .returning({ id: joinTokens.id });
    if (rows.length === 0) throw new NotFoundError("join token", id);
    await audit(tx, { actor, action: "token.revoked", target: id, details: { kind: "join" }, at: now });
    return revokeAgentsOfToken(tx, id, actor, now);
  });
}

/** Make sure a configured join token exists (not revoked unless revoked later). */
export async function ensureJoinToken(db: Db, token: string, description: string, now: Date): Promise<void> {
  // A configured join token may carry the CA fingerprint (`<secret>.<fingerprint>`): only the secret is hashed.
  const secret = splitJoinToken(token).secret;
  await db
    .insert(joinTokens)
    .values({ id: newId(), tokenHash: hashSecret(secret), description, createdAt: now })
    .onConflictDoNothing();
}

/** Make sure a configured API token exists, as a token of `userId`. */
export async function ensureApiToken(
  db: Db,
  token: string,
  userId: string,
  description: string,
  now: Date,
): Promise<void> {
  await db
    .insert(apiTokens)
    .values({ id: newId(), userId, tokenHash: hashSecret(token), description, createdAt: now })
    .onConflictDoNothing();
}

export async function countApiTokens(db: Db): Promise<number> {
  const rows = await db.select({ id: apiTokens.id }).from(apiTokens).where(isNull(apiTokens.revokedAt));
  return rows.length;
}

/** Who a bearer token speaks for. */
export interface ApiCaller {
  tokenId: string;
  userId: string;
  user: string;
  roles: string[];
}

/** The token's user, read on every call: a revoked token or a disabled user is refused at once. */
export async function authenticateApi(db: Db, token: string): Promise<ApiCaller> {
  const [row] = await db
    .select({
      tokenId: apiTokens.id,
      userId: users.id,
      user: users.name,
      roles: users.roles,
      disabledAt: users.disabledAt,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, hashSecret(token)), isNull(apiTokens.revokedAt)));
  if (!row) throw new UnauthenticatedError("API token is unknown or revoked");
  if (row.disabledAt) throw new UnauthenticatedError(`API token belongs to user '${row.user}', who is disabled`);
  return { tokenId: row.tokenId, userId: row.userId, user: row.user, roles: row.roles };
}

/** A new API token for an enabled user; only its hash is stored, the secret is returned once. */
export async function createApiToken(
  db: Db,
  userName: string,
  description: string,
  actor: Actor,
  now: Date,
): Promise<{ id: string; token: string }> {
  checkUserName(userName);
  return withTx(db, async (tx) => {
    const [user] = await tx
      .select({ id: users.id, disabledAt: users.disabledAt })
      .from(users)
      .where(eq(users.name, userName));
    if (!user) throw new NotFoundError("user", userName);
    if (user.disabledAt) throw new ConflictError(`user '${userName}' is disabled; a token for them would not work`);
    const id = newId();
    const token = newSecret("dya_");
    await tx
      .insert(apiTokens)
      .values({ id, userId: user.id, tokenHash: hashSecret(token), description, createdAt: now });
    await audit(tx, {
      actor,
      action: "token.created",
      target: id,
      details: { kind: "api", user: userName, description },
      at: now,
    });
    return { id, token };
  });
}

/** Revoke an API token (NotFoundError when there is none, ConflictError when it already is). */
export async function revokeApiToken(db: Db, id: string, actor: Actor, now: Date): Promise<void> {
  await withTx(db, async (tx) => {
    const rows = await tx
      .update(apiTokens)
      .set({ revokedAt: now })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .returning({ id: apiTokens.id });
    if (rows.length === 0) {
      const [exists] = await tx.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.id, id));
      if (!exists) throw new NotFoundError("API token", id);
      throw new ConflictError(`API token ${id} is already revoked`);
    }
    await audit(tx, { actor, action: "token.revoked", target: id, details: { kind: "api" }, at: now });
  });
}

/** A join or API token as listed: never its secret nor its hash. */
export interface TokenInfo {
  id: string;
  kind: "join" | "api";
  description: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** The API token's user; "" for join tokens. */
  user: string;
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
  const api = await db
    .select({ ...cols(apiTokens), user: users.name })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .orderBy(apiTokens.createdAt);
  return [
    ...join.map((t) => ({ ...t, kind: "join" as const, user: "" })),
    ...api.map((t) => ({ ...t, kind: "api" as const })),
  ];
}

/** Record that a token was accepted at `now`, unless a use within the last `everyMs` is already recorded. */
export async function touchToken(db: Db, kind: "join" | "api", id: string, now: Date, everyMs = 60_000): Promise<void> {
  const t = kind === "join" ? joinTokens : apiTokens;
  await db
    .update(t)
    .set({ lastUsedAt: now })
    .where(and(eq(t.id, id), or(isNull(t.lastUsedAt), lt(t.lastUsedAt, new Date(now.getTime() - everyMs)))));
}
