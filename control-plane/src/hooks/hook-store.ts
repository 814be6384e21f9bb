// Incoming decision webhooks ("hooks"): an admin makes one for a chat tool, bound to one
// Dockyard user whose decisions it makes. Its Standard Webhooks key (`whsec_...`) is made
// here, shown once, and kept sealed in the secret store as `hook.<name>.key`.
import { asc, eq } from "drizzle-orm";
import type { Db } from "../store/db";
import { approvalHooks, users } from "../store/schema";
import { ConflictError, InvalidError, NotFoundError } from "../errors";
import type { SecretStore } from "../secrets/secret-store";
import { newWebhookKey } from "../notify/channels";
import { userByName } from "../store/users";
import { audit, type Actor } from "../store/audit";

export const HOOK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export interface HookInfo {
  name: string;
  /** The user the hook decides as. */
  user: string;
  createdAt: Date;
}

const keySecret = (hook: string) => `hook.${hook}.key`;

export function checkHookName(name: string): string {
  if (!HOOK_NAME_PATTERN.test(name)) {
    throw new InvalidError(
      `invalid hook name '${name.slice(0, 64)}': use 1-40 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return name;
}

export class HookStore {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretStore,
  ) {}

  /** Creates hook `name` deciding as `userName`; returns its signing key (shown once, never again). */
  async add(name: string, userName: string, actor: Actor, now: Date): Promise<{ info: HookInfo; key: string }> {
    checkHookName(name);
    if (!userName) throw new InvalidError("a hook needs --user: the user whose decisions it makes");
    const user = await userByName(this.db, userName);
    if (user.disabledAt) throw new InvalidError(`user '${userName}' is disabled`);
    const inserted = await this.db
      .insert(approvalHooks)
      .values({ name, userId: user.id, secretRef: keySecret(name), createdAt: now })
      .onConflictDoNothing()
      .returning();
    if (inserted.length === 0)
      throw new ConflictError(`hook '${name}' already exists (remove it first: dockyard hooks rm ${name})`);
    const key = newWebhookKey();
    try {
      await this.secrets.set(keySecret(name), Buffer.from(key), now, actor);
    } catch (err) {
      await this.db.delete(approvalHooks).where(eq(approvalHooks.name, name));
      throw err;
    }
    await audit(this.db, { actor, action: "hook.created", target: name, details: { user: user.name }, at: now });
    return { info: { name, user: user.name, createdAt: now }, key };
  }

  async list(): Promise<HookInfo[]> {
    return this.db
      .select({ name: approvalHooks.name, user: users.name, createdAt: approvalHooks.createdAt })
      .from(approvalHooks)
      .innerJoin(users, eq(users.id, approvalHooks.userId))
      .orderBy(asc(approvalHooks.name));
  }

  /** Deletes the hook and its key: its next request is refused as an unknown hook. */
  async remove(name: string, actor: Actor, now: Date): Promise<void> {
    checkHookName(name);
    const [row] = await this.db.delete(approvalHooks).where(eq(approvalHooks.name, name)).returning();
    if (!row) throw new NotFoundError("hook", name);
    await this.secrets.remove(row.secretRef, now, actor).catch(() => undefined);
    await audit(this.db, { actor, action: "hook.removed", target: name, at: now });
  }

  /** The hook's user and key, or null for an unknown hook. */
  async lookup(
    name: string,
  ): Promise<{ user: { id: string; name: string; roles: string[]; disabledAt: Date | null }; key: string } | null> {
    if (!HOOK_NAME_PATTERN.test(name)) return null;
    const [row] = await this.db
      .select({
        secretRef: approvalHooks.secretRef,
        id: users.id,
        name: users.name,
        roles: users.roles,
        disabledAt: users.disabledAt,
      })
      .from(approvalHooks)
      .innerJoin(users, eq(users.id, approvalHooks.userId))
      .where(eq(approvalHooks.name, name));
    if (!row) return null;
    const key = (await this.secrets.value(row.secretRef)).toString("utf8");
    return { user: { id: row.id, name: row.name, roles: row.roles, disabledAt: row.disabledAt }, key };
  }
}
