// The public JSON of notification channels and their deliveries (zod schemas; the types are
// inferred from them). No answer carries a credential.
import { z } from "@hono/zod-openapi";

const time = z.string().openapi({ format: "date-time" });

/** A notification channel (`GET /channels`): never a credential. */
export const ChannelViewSchema = z
  .object({
    name: z.string(),
    type: z.string().describe("email | sms | webhook"),
    target: z.string().describe("What it sends to (URL, SMTP host and recipients), for display."),
    createdAt: time,
    disabledAt: time.nullable().describe("null while enabled; set when a receiver answered 410 Gone."),
    disabledReason: z.string().nullable(),
  })
  .openapi("Channel");
export type ChannelView = z.infer<typeof ChannelViewSchema>;

/** A new channel (`POST /channels`); which fields apply depends on `type` (see the README). */
export interface NewChannelInput {
  name: string;
  type: string;
  url?: string;
  smtpUrl?: string;
  from?: string;
  to?: string[];
  template?: string;
  user?: string;
  /** The SMTP password or SMS token, stored sealed and never answered. */
  secret?: string;
  /** Or the name of a secret already in the store holding it. */
  secretName?: string;
}

/** One try of a delivery. */
export const NotificationAttemptViewSchema = z
  .object({
    number: z.number().int(),
    at: time,
    result: z.string().describe("delivered | failed | refused | gone | disabled"),
    statusCode: z.number().int().nullable().describe("null when there was no HTTP/SMTP answer."),
    error: z.string().nullable(),
    durationMs: z.number(),
  })
  .openapi("NotificationAttempt");
export type NotificationAttemptView = z.infer<typeof NotificationAttemptViewSchema>;

/** One message to one channel (`GET /notifications`); `id` is its webhook-id. As `dockyard notifications --json`. */
export const NotificationViewSchema = z
  .object({
    id: z.string(),
    channel: z.string(),
    event: z.string(),
    runId: z.string().nullable().describe("null for messages about no run (a channel test)."),
    subject: z.string().describe("As sent: rendered, secret values masked."),
    state: z.string().describe("pending | delivered | failed | disabled"),
    createdAt: time,
    nextAttemptAt: time.nullable().describe("null unless pending."),
    finishedAt: time.nullable(),
    attempts: z.array(NotificationAttemptViewSchema),
  })
  .openapi("Notification");
export type NotificationView = z.infer<typeof NotificationViewSchema>;
