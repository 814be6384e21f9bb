// Users: a name and a set of roles. Never deleted (the audit log and runs name them);
// disabling one refuses its tokens from the next call on.
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "./db";
import { apiTokens, users } from "./schema";
import { newId } from "../ids";
import { ConflictError, InvalidError, NotFoundError } from "../errors";
import { ROLES, isRole } from "../access/roles";
import { withTx } from "./tx";
import { audit, type Actor } from "./audit";

export interface UserInfo {
  id: string;
  name: string;
  roles: string[];
  disabledAt: Date | null;
  createdAt: Date;
  /** API tokens of the user that are not revoked. */
  activeTokens: number;
}

const NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** Throws InvalidError naming the problem with a user name. */
export function checkUserName(name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidError(
      `invalid user name '${name.slice(0, 64)}': 1-64 characters, lowercase letters, digits and . _ @ -, starting with a letter or digit`,
    );
  }
}

/** Throws InvalidError naming the problem with a user name or a role list. */
export function checkUser(name: string, roles: readonly string[]): void {
  checkUserName(name);
  if (roles.length > ROLES.length * 4)
    throw new InvalidError(`${roles.length} roles given; there are only ${ROLES.length}`);
  if (roles.length === 0) throw new InvalidError(`a user needs at least one role (${ROLES.join(", ")})`);
  for (const r of roles)
    if (!isRole(r)) throw new InvalidError(`unknown role '${r.slice(0, 32)}': expected one of ${ROLES.join(", ")}`);
}

export async function addUser(db: Db, name: string, roles: string[], actor: Actor, now: Date): Promise<UserInfo> {
  checkUser(name, roles);
  const unique = [...new Set(roles)];
  return withTx(db, async (tx) => {
    const id = newId();
    const rows = await tx
      .insert(users)
      .values({ id, name, roles: unique, createdAt: now })
      .onConflictDoNothing()
      .returning({ id: users.id });
    if (rows.length === 0) throw new ConflictError(`user '${name}' already exists`);
    await audit(tx, { actor, action: "user.added", target: name, details: { userId: id, roles: unique }, at: now });
    return { id, name, roles: unique, disabledAt: null, createdAt: now, activeTokens: 0 };
  });
}

export async function listUsers(db: Db): Promise<UserInfo[]> {
  const rows = await db.select().from(users).orderBy(users.name);
  const tokens = await db.select({ userId: apiTokens.userId }).from(apiTokens).where(isNull(apiTokens.revokedAt));
  const count = new Map<string, number>();
  for (const t of tokens) count.set(t.userId, (count.get(t.userId) ?? 0) + 1);
  return rows.map((u) => ({ ...u, activeTokens: count.get(u.id) ?? 0 }));
}

export async function userByName(
  db: Db,
  name: string,
): Promise<{ id: string; name: string; roles: string[]; disabledAt: Date | null }> {
  const [row] = await db.select().from(users).where(eq(users.name, name));
  if (!row) throw new NotFoundError("user", name);
  return row;
}

/** Disable a user: every token of theirs stops working at once (authentication reads disabled_at on each call). */
export async function disableUser(db: Db, name: string, actor: Actor, now: Date): Promise<void> {
  checkUserName(name);
  if (actor.kind === "user" && actor.name === name)
    throw new InvalidError("you cannot disable yourself (another admin can)");
  await withTx(db, async (tx) => {
    const rows = await tx
      .update(users)
      .set({ disabledAt: now })
      .where(and(eq(users.name, name), isNull(users.disabledAt)))
      .returning({ id: users.id });
    if (rows.length === 0) {
      const [exists] = await tx.select({ id: users.id }).from(users).where(eq(users.name, name));
      if (!exists) throw new NotFoundError("user", name);
      throw new ConflictError(`user '${name}' is already disabled`);
    }
    await audit(tx, { actor, action: "user.disabled", target: name, details: { userId: rows[0]!.id }, at: now });
  });
}

/** The user a configured or bootstrapped token belongs to: `admin`, created with the admin role when missing. */
export async function ensureAdminUser(db: Db, now: Date): Promise<string> {
  await db
    .insert(users)
    .values({ id: newId(), name: "admin", roles: ["admin"], createdAt: now })
    .onConflictDoNothing();
  return (await userByName(db, "admin")).id;
}
