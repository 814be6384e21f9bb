// Notification channels: where messages go. Settings that are not secret live in the channels
// table; credentials (SMTP password, SMS token, webhook signing keys) live in the secret store,
// named `channel.<name>.<role>`, and the table keeps only those names.
import { randomBytes } from "node:crypto";
import { asc, eq } from "drizzle-orm";
import type { Db, Tx } from "../store/db";
import { channels } from "../store/schema";
import { ConflictError, InvalidError, NotFoundError } from "../errors";
import { checkSecretName, type SecretStore } from "../secrets/secret-store";
import { withTx } from "../store/tx";
import { audit, type Actor } from "../store/audit";
import { resolveTarget, type TargetPolicy } from "./ssrf";
import { templateProblems } from "./templates";
import type { NewChannelInput } from "@dockyard/web";

export type ChannelRow = typeof channels.$inferSelect;
export type ChannelType = "email" | "sms" | "webhook";
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
/** Twilio's Messages API shape: form fields To, From, Body. */
export const DEFAULT_SMS_TEMPLATE = "To={{ to }}&From={{ from }}&Body={{ message }}";
const MAX_URL = 2048;
const MAX_RECIPIENTS = 20;

/** A new channel: the HTTP API's input (its fields per type are documented there), the secret as bytes. */
export type NewChannel = Omit<NewChannelInput, "secret"> & {
  /** The SMTP password or SMS token (stored sealed). */
  secret?: Uint8Array;
};

export interface ChannelInfo {
  name: string;
  type: ChannelType;
  /** What the channel sends to, for display: no credential. */
  target: string;
  createdAt: Date;
  disabledAt: Date | null;
  disabledReason: string | null;
}

const secretName = (channel: string, role: string) => `channel.${channel}.${role}`;
/** A Standard Webhooks signing key: `whsec_` + base64 of 32 random bytes. */
export const newWebhookKey = (): string => `whsec_${randomBytes(32).toString("base64")}`;

export class ChannelStore {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretStore,
    private readonly policy: TargetPolicy,
  ) {}

  /**
   * Creates a channel as `actor`; for a webhook returns its signing key (shown once). The row, its
   * credentials in the secret store and the audit entry commit together or not at all.
   */
  async add(input: NewChannel, now: Date, actor: Actor): Promise<{ info: ChannelInfo; key: string | null }> {
    const { config, secretValues } = await this.validate(input);
    const key = input.type === "webhook" ? newWebhookKey() : null;
    if (key) secretValues.key = Buffer.from(key);
    const refs: Record<string, string> = Object.fromEntries(
      Object.keys(secretValues).map((role) => [role, secretName(input.name, role)]),
    );
    if (input.secretName) {
      if (input.secret) throw new InvalidError("give the credential on stdin or as a secret's name, not both");
      if (input.type === "webhook")
        throw new InvalidError("a webhook channel's signing key is made by the server; it takes no secret");
      checkSecretName(input.secretName);
      if ((await this.secrets.missing([input.secretName])).length > 0) {
        throw new InvalidError(
          `secret '${input.secretName}' does not exist; create it with: dockyard secret set ${input.secretName}`,
        );
      }
      refs[input.type === "email" ? "password" : "token"] = input.secretName;
    }
    return withTx(this.db, async (tx) => {
      const inserted = await tx
        .insert(channels)
        .values({ name: input.name, type: input.type, config, secretRefs: refs, createdAt: now })
        .onConflictDoNothing()
        .returning();
      if (inserted.length === 0)
        throw new ConflictError(
          `channel '${input.name}' already exists (remove it first: dockyard channels rm ${input.name})`,
        );
      for (const [role, value] of Object.entries(secretValues))
        await this.secrets.set(secretName(input.name, role), value, now, actor, tx);
      const info = channelInfo(inserted[0]!);
      // Never a credential: the names of the secrets that hold them.
      await audit(tx, {
        actor,
        action: "channel.added",
        target: input.name,
        details: { type: info.type, target: info.target, secrets: Object.values(refs) },
        at: now,
      });
      return { info, key };
    });
  }

  async list(): Promise<ChannelInfo[]> {
    return (await this.db.select().from(channels).orderBy(asc(channels.name))).map(channelInfo);
  }

  async get(db: Db | Tx, name: string): Promise<ChannelRow> {
    const [row] = await db.select().from(channels).where(eq(channels.name, name));
    if (!row) throw new NotFoundError("channel", name);
    return row;
  }

  /** Deletes the channel and the credentials it made, as `actor`, with its audit entry (one transaction). */
  async remove(name: string, now: Date, actor: Actor): Promise<void> {
    checkChannelName(name);
    await withTx(this.db, async (tx) => {
      const [row] = await tx.delete(channels).where(eq(channels.name, name)).returning();
      if (!row) throw new NotFoundError("channel", name);
      // Only the secrets the channel made; one named at `add` (--password-secret) belongs to the user.
      for (const secret of Object.values(row.secretRefs)) {
        if (!secret.startsWith(`channel.${name}.`)) continue;
        await this.secrets.remove(secret, now, actor, tx).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      }
      await audit(tx, { actor, action: "channel.removed", target: name, details: { type: row.type }, at: now });
    });
  }

  /**
   * A new webhook key, as `actor`; the old one keeps signing beside it for `windowMs` (receivers
   * switch over meanwhile). Keys, row and audit entry change in one transaction, the row locked
   * so two rotations at once do not both keep the same "previous" key.
   */
  async rotate(name: string, windowMs: number, now: Date, actor: Actor): Promise<string> {
    checkChannelName(name);
    return withTx(this.db, async (tx) => {
      const [row] = await tx.select().from(channels).where(eq(channels.name, name)).for("update");
      if (!row) throw new NotFoundError("channel", name);
      if (row.type !== "webhook")
        throw new InvalidError(`channel '${name}' is a ${row.type} channel; only webhook keys rotate`);
      const old = await this.secrets.value(row.secretRefs.key!, tx);
      const key = newWebhookKey();
      const previousKeyUntil = new Date(now.getTime() + windowMs);
      await this.secrets.set(secretName(name, "previous-key"), old, now, actor, tx);
      await this.secrets.set(secretName(name, "key"), Buffer.from(key), now, actor, tx);
      await tx
        .update(channels)
        .set({ secretRefs: { ...row.secretRefs, previousKey: secretName(name, "previous-key") }, previousKeyUntil })
        .where(eq(channels.name, name));
      await audit(tx, {
        actor,
        action: "channel.key_rotated",
        target: name,
        details: { previousKeyValidUntil: previousKeyUntil.toISOString() },
        at: now,
      });
      return key;
    });
  }

  /** The channel's credential by role (`key`, `previousKey`, `password`, `token`), or null. */
  async credential(row: ChannelRow, role: string): Promise<string | null> {
    const name = row.secretRefs[role];
    return name ? (await this.secrets.value(name)).toString("utf8") : null;
  }

  private async validate(
    input: NewChannel,
  ): Promise<{ config: Record<string, unknown>; secretValues: Record<string, Uint8Array> }> {
    checkChannelName(input.name);
    const secretValues: Record<string, Uint8Array> = {};
    if (input.type === "webhook") {
      const url = await this.checkUrl(input.url, "--url");
      return { config: { url }, secretValues };
    }
    if (input.type === "sms") {
      const url = await this.checkUrl(input.url, "--url");
      const to = checkRecipients(input.to, /^\+?[0-9A-Za-z ()-]{3,32}$/, "a phone number");
      const template = input.template ?? DEFAULT_SMS_TEMPLATE;
      const problems = templateProblems(template);
      if (problems.length > 0) throw new InvalidError(`--template: ${problems.join("; ")}`);
      if (input.secret) secretValues.token = input.secret;
      return { config: { url, to, from: input.from ?? "", user: input.user ?? "", template }, secretValues };
    }
    if (input.type === "email") {
      if (!input.smtpUrl) throw new InvalidError("an email channel needs --smtp-url smtp://user@host:port");
      let u: URL;
      try {
        u = new URL(input.smtpUrl);
      } catch {
        throw new InvalidError(`--smtp-url: not a URL: ${input.smtpUrl.slice(0, 100)}`);
      }
      if (u.protocol !== "smtp:" && u.protocol !== "smtps:")
        throw new InvalidError("--smtp-url must start with smtp:// or smtps://");
      if (u.password)
        throw new InvalidError(
          "--smtp-url must not carry the password (it would be stored in clear): pass it on stdin",
        );
      await resolveTarget(u.hostname, this.policy).catch(refusal);
      const to = checkRecipients(input.to, /^[^\s@<>]{1,64}@[^\s@<>]{1,255}$/, "an email address");
      if (!input.from || !/^[^\s@<>]{1,64}@[^\s@<>]{1,255}$/.test(input.from))
        throw new InvalidError("an email channel needs --from with an email address");
      if (input.secret) secretValues.password = input.secret;
      const port = Number(u.port || (u.protocol === "smtps:" ? 465 : 25));
      return {
        config: {
          host: u.hostname,
          port,
          secure: u.protocol === "smtps:",
          user: decodeURIComponent(u.username),
          from: input.from,
          to,
        },
        secretValues,
      };
    }
    throw new InvalidError(`channel type '${input.type}' is unknown: use email, sms or webhook`);
  }

  private async checkUrl(raw: string | undefined, flag: string): Promise<string> {
    if (!raw) throw new InvalidError(`${flag} is required`);
    if (raw.length > MAX_URL) throw new InvalidError(`${flag} is ${raw.length} characters; the limit is ${MAX_URL}`);
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new InvalidError(`${flag}: not a URL: ${raw.slice(0, 100)}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:")
      throw new InvalidError(`${flag} must be an http:// or https:// URL`);
    if (u.username || u.password)
      throw new InvalidError(`${flag} must not carry credentials (they would be stored in clear)`);
    await resolveTarget(u.hostname, this.policy).catch(refusal);
    return u.toString();
  }
}

function refusal(err: Error): never {
  throw new InvalidError(`refused: ${err.message}`);
}

export function checkChannelName(name: string): string {
  if (!CHANNEL_NAME_PATTERN.test(name)) {
    throw new InvalidError(
      `invalid channel name '${name.slice(0, 64)}': use 1-40 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    );
  }
  return name;
}

function checkRecipients(to: string[] | undefined, pattern: RegExp, what: string): string[] {
  const list = (to ?? [])
    .flatMap((t) => t.split(","))
    .map((t) => t.trim())
    .filter(Boolean);
  if (list.length === 0) throw new InvalidError(`--to is required (${what})`);
  if (list.length > MAX_RECIPIENTS)
    throw new InvalidError(`--to names ${list.length} recipients; the limit is ${MAX_RECIPIENTS}`);
  for (const t of list) if (!pattern.test(t)) throw new InvalidError(`--to: '${t.slice(0, 100)}' is not ${what}`);
  return list;
}

export function channelInfo(row: ChannelRow): ChannelInfo {
  const c = row.config as Record<string, unknown>;
  const target =
    row.type === "email"
      ? `smtp ${String(c.host)}:${String(c.port)} -> ${(c.to as string[]).join(", ")}`
      : row.type === "sms"
        ? `${String(c.url)} -> ${(c.to as string[]).join(", ")}`
        : String(c.url);
  return {
    name: row.name,
    type: row.type as ChannelType,
    target,
    createdAt: row.createdAt,
    disabledAt: row.disabledAt,
    disabledReason: row.disabledReason,
  };
}
