// The delivery worker (one per replica): claims due outbox rows, sends them, records each
// attempt and reschedules per the retry schedule. Rows are leased, so when a replica dies
// mid-send (kill -9) another one, or the same after a restart, sends them again once the lease
// lapses: same webhook-id, so the receiver drops the duplicate.
import { and, asc, eq, isNull, ne, sql } from "drizzle-orm";
import type { Logger } from "pino";
import type { Db, Tx } from "../store/db";
import { withTx } from "../store/tx";
import { channels } from "../store/schema";
import { audit, SERVER_ACTOR } from "../store/audit";
import type { Clock } from "../clock";
import type { SecretStore } from "../secrets/secret-store";
import {
  claimDue,
  disablePending,
  pruneFinished,
  DELIVERY_RETENTION_MS,
  enqueueNotification,
  recordAttempt,
  RETRY_SCHEDULE_MS,
  type AttemptRecord,
  type DeliveryRow,
} from "./outbox";
import { renderMessage, send, SEND_TIMEOUT_MS, type ChannelCredentials } from "./senders";
import type { ChannelRow, ChannelStore } from "./channels";
import type { TargetPolicy } from "./ssrf";
import type { NotifyMetrics } from "./metrics";

export interface NotifyWorkerOptions {
  /** Multiplies every delay of the retry schedule (tests: 0.001). */
  retryScale: number;
  /** Where a message about a channel disabled by a 410 goes; null: the first other enabled channel. */
  fallbackChannel: string | null;
  pollIntervalMs?: number;
  /** How long a claim holds a row: past it, another worker re-sends (longer than a send may take). */
  leaseMs?: number;
  /** Sends at once per replica. */
  concurrency?: number;
  /** The HTTP base URL messages link to (`{{ links.run }}`). */
  linkBase?: string | null;
  metrics?: NotifyMetrics;
}

/** A delivery's channel as read for one claim: null when it does not exist. */
type Target = { channel: ChannelRow; creds: ChannelCredentials; error?: string } | null;

const PRUNE_INTERVAL_MS = 600_000;

/** How long the farm's secret values are cached for masking (a new secret is masked within this). */
const SECRETS_CACHE_MS = 2_000;

export class NotifyWorker {
  private timer: NodeJS.Timeout | null = null;
  private claiming: Promise<void> | null = null;
  private readonly sending = new Set<Promise<void>>();
  private stopped = false;
  private secretsCache: { at: number; values: string[] } | null = null;
  private lastPrune = 0;
  private readonly schedule: number[];

  constructor(
    private readonly db: Db,
    private readonly channelStore: ChannelStore,
    private readonly secrets: SecretStore,
    private readonly policy: TargetPolicy,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: NotifyWorkerOptions,
  ) {
    this.schedule = RETRY_SCHEDULE_MS.map((ms) => Math.round(ms * opts.retryScale));
  }

  start(): void {
    const interval = this.opts.pollIntervalMs ?? 200;
    this.timer = setInterval(() => this.kick(), interval);
    this.timer.unref();
  }

  /** Claims more now unless a claim runs (then the next tick, or the next send's end, does). */
  kick(): void {
    if (this.stopped || this.claiming) return;
    this.claiming = this.fill()
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, "notification pass failed"))
      .finally(() => (this.claiming = null));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.claiming;
    await Promise.all(this.sending);
  }

  /**
   * Claims due rows into free send slots and starts them. Each send ends on its own (a slow
   * receiver holds one slot, not the others' turn); old finished rows go every 10 minutes.
   */
  private async fill(): Promise<void> {
    if (Date.now() - this.lastPrune > PRUNE_INTERVAL_MS) {
      this.lastPrune = Date.now();
      await pruneFinished(this.db, new Date(this.clock.now().getTime() - DELIVERY_RETENTION_MS));
    }
    const slots = this.opts.concurrency ?? 32;
    while (!this.stopped) {
      const free = slots - this.sending.size;
      if (free <= 0) return;
      const rows = await claimDue(this.db, free, this.clock.now(), this.opts.leaseMs ?? SEND_TIMEOUT_MS + 5_000);
      if (rows.length === 0) return;
      const secrets = await this.secretValues();
      // One read of each channel and its credentials per claim, not per message.
      const targets = new Map<string, Promise<Target>>();
      const target = (name: string) => {
        let t = targets.get(name);
        if (!t) targets.set(name, (t = this.loadTarget(name)));
        return t;
      };
      for (const row of rows) {
        const sent: Promise<void> = target(row.channel)
          .then((t) => this.deliver(row, secrets, t))
          .catch((err: unknown) =>
            this.log.warn(
              { delivery: row.id, err: (err as Error).message },
              "notification send failed; retried after its lease",
            ),
          )
          .finally(() => {
            this.sending.delete(sent);
            this.kick();
          });
        this.sending.add(sent);
      }
      if (rows.length < free) return;
    }
  }

  /** The channel and its credentials; a credential that cannot be read (its secret deleted) is the attempt's error. */
  private async loadTarget(name: string): Promise<Target> {
    const [channel] = await this.db.select().from(channels).where(eq(channels.name, name));
    if (!channel) return null;
    try {
      return { channel, creds: channel.disabledAt ? {} : await this.credentials(channel, this.clock.now()) };
    } catch (err) {
      return { channel, creds: {}, error: `cannot read the channel's credentials: ${(err as Error).message}` };
    }
  }

  private async deliver(row: DeliveryRow, secrets: string[], target: Target): Promise<void> {
    const now = this.clock.now();
    const channel = target?.channel;
    let attempt: AttemptRecord;
    if (!target || !channel)
      attempt = {
        result: "refused",
        statusCode: null,
        error: `channel '${row.channel}' does not exist`,
        durationMs: 0,
      };
    else if (channel.disabledAt)
      attempt = {
        result: "disabled",
        statusCode: null,
        error: `channel disabled: ${channel.disabledReason ?? ""}`,
        durationMs: 0,
      };
    else if (target.error) attempt = { result: "failed", statusCode: null, error: target.error, durationMs: 0 };
    else
      attempt = await send(
        channel,
        target.creds,
        renderMessage(row, secrets, this.opts.linkBase ?? null),
        this.policy,
        now,
      );
    this.opts.metrics?.attempts.inc({ result: attempt.result });
    const at = this.clock.now();
    await withTx(this.db, async (tx) => {
      const recorded = await recordAttempt(tx, row, attempt, at, this.schedule);
      if (recorded && attempt.result === "gone" && channel) await this.disableChannel(tx, channel, row, at);
    });
    if (attempt.result !== "delivered") {
      this.log.info(
        {
          delivery: row.id,
          channel: row.channel,
          attempt: row.attempts + 1,
          result: attempt.result,
          error: attempt.error,
        },
        "notification not delivered",
      );
    }
  }

  /** A 410: the channel is disabled, its queued messages with it, and another channel is told (same transaction). */
  private async disableChannel(tx: Tx, channel: ChannelRow, row: DeliveryRow, now: Date): Promise<void> {
    const reason = `the receiver answered 410 Gone to ${row.id} at ${now.toISOString()}`;
    const changed = await tx
      .update(channels)
      .set({ disabledAt: now, disabledReason: reason })
      .where(and(eq(channels.name, channel.name), isNull(channels.disabledAt)))
      .returning({ name: channels.name });
    await disablePending(tx, channel.name, now);
    if (changed.length === 0) return;
    await audit(tx, {
      actor: SERVER_ACTOR,
      action: "channel.disabled",
      target: channel.name,
      details: { reason, delivery: row.id },
      at: now,
    });
    const fallback = await this.fallbackChannel(tx, channel.name);
    if (!fallback) {
      this.log.warn(
        { channel: channel.name, reason },
        "notification channel disabled; no other enabled channel to say so on",
      );
      return;
    }
    this.log.warn({ channel: channel.name, reason, toldOn: fallback }, "notification channel disabled");
    await enqueueNotification(
      tx,
      {
        channels: [fallback],
        subject: "[dockyard] notification channel {{ channel }} disabled",
        body: "Channel {{ channel }} was disabled: {{ reason }}. Re-create it (dockyard channels rm / add) once the receiver is back.",
        context: { event: "channel.disabled", status: "disabled", channel: channel.name, reason },
      },
      now,
    );
  }

  private async fallbackChannel(tx: Tx, disabled: string): Promise<string | null> {
    const wanted = this.opts.fallbackChannel;
    if (wanted && wanted !== disabled) {
      const [row] = await tx
        .select({ name: channels.name })
        .from(channels)
        .where(and(eq(channels.name, wanted), isNull(channels.disabledAt)));
      if (row) return row.name;
    }
    const [first] = await tx
      .select({ name: channels.name })
      .from(channels)
      .where(and(ne(channels.name, disabled), isNull(channels.disabledAt)))
      .orderBy(asc(channels.name))
      .limit(1);
    return first?.name ?? null;
  }

  private async credentials(channel: ChannelRow, now: Date): Promise<ChannelCredentials> {
    const inWindow = channel.previousKeyUntil !== null && channel.previousKeyUntil > now;
    return {
      key: await this.channelStore.credential(channel, "key"),
      previousKey: inWindow ? await this.channelStore.credential(channel, "previousKey") : null,
      password: await this.channelStore.credential(channel, "password"),
      token: await this.channelStore.credential(channel, "token"),
    };
  }

  private async secretValues(): Promise<string[]> {
    const at = Date.now();
    if (!this.secretsCache || at - this.secretsCache.at > SECRETS_CACHE_MS)
      this.secretsCache = { at, values: await this.secrets.allValues() };
    return this.secretsCache.values;
  }
}

/** Deliveries not finished yet (for tests and the benchmark). */
export async function pendingDeliveries(db: Db): Promise<number> {
  const rows = await db.execute(sql`SELECT count(*)::int AS n FROM deliveries WHERE state = 'pending'`);
  return Number((rows as unknown as { rows: { n: number }[] }).rows[0]?.n ?? 0);
}
