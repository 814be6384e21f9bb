// The operations behind `dockyard channels` and `dockyard notifications`, shared by the edges.
import { eq, inArray } from "drizzle-orm";
import type { PipelineSpec } from "@dockyard/pipeline";
import type { Db, Tx } from "../store/db";
import { channels, deliveries } from "../store/schema";
import type { Clock } from "../clock";
import type { SecretStore } from "../secrets/secret-store";
import { InvalidError } from "../errors";
import type { Actor } from "../store/audit";
import { DEFAULT_NOTIFICATIONS_LIMIT, MAX_NOTIFICATIONS_LIMIT, MAX_ROTATION_WINDOW_SECONDS } from "@dockyard/web";
import { checkChannelName, type ChannelInfo, type ChannelStore, type NewChannel } from "./channels";
import { enqueueNotification, listDeliveries, type DeliveryAttemptRow, type DeliveryRow } from "./outbox";
import { renderMessage } from "./senders";
import { stageKind } from "../stages/index";

export { MAX_NOTIFICATIONS_LIMIT };
/** How long `channels test` waits for the test message's first attempt. */
const TEST_WAIT_MS = 15_000;
/** A rotated-out webhook key signs beside the new one this long by default (receivers switch over meanwhile). */
export const DEFAULT_ROTATION_WINDOW_MS = 24 * 3_600_000;
const MAX_ROTATION_WINDOW_MS = MAX_ROTATION_WINDOW_SECONDS * 1000;
/** Longest text field of a new channel, recipients and credential accepted (before the channel's own checks). */
const MAX_FIELD = 4096;
const MAX_RECIPIENTS = 20;
const MAX_SECRET_BYTES = 64 * 1024;

export interface DeliveryView {
  row: DeliveryRow;
  /** The subject as sent (rendered, secret values masked). */
  subject: string;
  attempts: DeliveryAttemptRow[];
}

export class NotifyService {
  constructor(
    private readonly db: Db,
    private readonly store: ChannelStore,
    private readonly secrets: SecretStore,
    private readonly clock: Clock,
    /** Wakes this replica's worker (a test message goes out at once). */
    private readonly kick: () => void,
  ) {}

  /** Creates a channel as `actor` (audited with it); a webhook's signing key is answered this once. */
  addChannel(input: NewChannel, actor: Actor): Promise<{ info: ChannelInfo; key: string | null }> {
    checkBounds(input);
    return this.store.add(input, this.clock.now(), actor);
  }

  listChannels(): Promise<ChannelInfo[]> {
    return this.store.list();
  }

  /** Removes a channel and the credentials it made, as `actor` (audited). */
  removeChannel(name: string, actor: Actor): Promise<void> {
    return this.store.remove(name, this.clock.now(), actor);
  }

  /** A new webhook signing key as `actor` (audited); the old one signs beside it for `windowMs` (0: 24 hours). */
  async rotateKey(name: string, windowMs: number, actor: Actor): Promise<{ key: string; previousValidUntil: Date }> {
    const window = windowMs || DEFAULT_ROTATION_WINDOW_MS;
    if (!Number.isSafeInteger(window) || window < 0 || window > MAX_ROTATION_WINDOW_MS) {
      throw new InvalidError(
        `rotation window must be at most ${MAX_ROTATION_WINDOW_MS / 86_400_000} days (${MAX_ROTATION_WINDOW_SECONDS} seconds)`,
      );
    }
    const now = this.clock.now();
    const key = await this.store.rotate(name, window, now, actor);
    return { key, previousValidUntil: new Date(now.getTime() + window) };
  }

  /** Sends a test message and waits (bounded) for its first attempt; returns the delivery as it then is. */
  async test(name: string): Promise<DeliveryView> {
    const row = await this.store.get(this.db, checkChannelName(name));
    if (row.disabledAt) throw new InvalidError(`channel '${name}' is disabled: ${row.disabledReason ?? ""}`);
    const now = this.clock.now();
    const [id] = await enqueueNotification(
      this.db,
      {
        channels: [name],
        subject: "[dockyard] test message for channel {{ channel }}",
        body: "This is a test message from dockyard channels test {{ channel }}.",
        context: { event: "test", status: "test", channel: name },
      },
      now,
    );
    this.kick();
    const deadline = Date.now() + TEST_WAIT_MS;
    for (;;) {
      const [d] = await this.db.select().from(deliveries).where(eq(deliveries.id, id!));
      if (!d || d.attempts > 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const [view] = await this.views([id!]);
    return view!;
  }

  async notifications(opts: { channel?: string; limit?: number }): Promise<DeliveryView[]> {
    const limit = opts.limit || DEFAULT_NOTIFICATIONS_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_NOTIFICATIONS_LIMIT)
      throw new InvalidError(`limit must be 1-${MAX_NOTIFICATIONS_LIMIT}`);
    if (opts.channel) checkChannelName(opts.channel);
    const rows = await listDeliveries(this.db, { channel: opts.channel || undefined, limit });
    const secrets = await this.secrets.allValues();
    return rows.map(({ row, attempts }) => ({ row, attempts, subject: renderMessage(row, secrets).subject }));
  }

  /**
   * Every channel a `notify:` rule or a notify stage names must exist at submit (like secrets).
   * `db`: a caller's transaction, when it holds one (embedded PGlite has a single connection).
   */
  async checkPipeline(pipeline: PipelineSpec, db: Db | Tx = this.db): Promise<void> {
    // Where each channel is named, for the message: `notify:` or `stage 'tell'`.
    const usedBy = new Map<string, string[]>();
    const use = (name: string, where: string) => usedBy.set(name, [...new Set([...(usedBy.get(name) ?? []), where])]);
    for (const rule of pipeline.notify) for (const c of rule.channels) use(c, "notify:");
    for (const stage of pipeline.stages) {
      const kind = stageKind(stage.spec.type);
      for (const c of kind.runsOn === "server" ? (kind.channels?.(stage.spec) ?? []) : [])
        use(c, `stage '${stage.name}'`);
    }
    const names = [...usedBy.keys()];
    if (names.length === 0) return;
    const found = new Set(
      (await db.select({ name: channels.name }).from(channels).where(inArray(channels.name, names))).map((r) => r.name),
    );
    const missing = names.filter((n) => !found.has(n));
    if (missing.length > 0) {
      const named = (n: string) => `named by ${usedBy.get(n)!.join(", ")}`;
      const what =
        missing.length === 1
          ? `channel '${missing[0]}' does not exist (${named(missing[0]!)})`
          : `channels ${missing.map((n) => `'${n}' (${named(n)})`).join(", ")} do not exist`;
      throw new InvalidError(`notify: ${what}; create with: dockyard channels add NAME --type ...`);
    }
  }

  private async views(ids: string[]): Promise<DeliveryView[]> {
    const found = await listDeliveries(this.db, { ids, limit: ids.length });
    const secrets = await this.secrets.allValues();
    return found.map(({ row, attempts }) => ({ row, attempts, subject: renderMessage(row, secrets).subject }));
  }
}

/** Bounds on a new channel's fields, whichever edge it came through (the channel store checks their content). */
function checkBounds(input: NewChannel): void {
  const fields: Record<string, string | undefined> = {
    name: input.name,
    type: input.type,
    url: input.url,
    smtpUrl: input.smtpUrl,
    from: input.from,
    template: input.template,
    user: input.user,
    secretName: input.secretName,
  };
  for (const [field, value] of Object.entries(fields)) {
    if (value !== undefined && value.length > MAX_FIELD)
      throw new InvalidError(`${field} is ${value.length} characters; the limit is ${MAX_FIELD}`);
  }
  const to = input.to ?? [];
  if (to.length > MAX_RECIPIENTS)
    throw new InvalidError(`to names ${to.length} recipients; the limit is ${MAX_RECIPIENTS}`);
  for (const t of to)
    if (t.length > MAX_FIELD)
      throw new InvalidError(`to: a recipient is ${t.length} characters; the limit is ${MAX_FIELD}`);
  if (input.secret && input.secret.length > MAX_SECRET_BYTES)
    throw new InvalidError(`the channel secret is larger than ${MAX_SECRET_BYTES} bytes`);
}
