// Alerts: what Alertmanager posts (its webhook v4 body, as the receiver reads it: a zod schema,
// bounded, every refusal naming the field) and the public JSON view of a stored alert
// (`GET /api/v1/alerts`, `dockyard alerts --json`).
import { z } from "@hono/zod-openapi";

/** Most alerts in one post (Alertmanager's max_alerts should be set at or under it). */
export const MAX_ALERTS = 1000;
const MAX_LABELS = 64;
const MAX_KEY = 128;
const MAX_VALUE = 4096;

// RFC 3339 as Alertmanager writes it (Go's time.Time: up to nanoseconds, Z or an offset).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const amTime = z
  .string()
  .max(40)
  .refine((s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)), {
    message: "expected an RFC 3339 time like 2026-01-02T03:04:05Z",
  })
  .openapi({ format: "date-time" });

const stringMap = z
  .record(
    z.string().min(1).max(MAX_KEY, `a name is at most ${MAX_KEY} characters`),
    z.string().max(MAX_VALUE, `a value is at most ${MAX_VALUE} characters`),
  )
  .refine((m) => Object.keys(m).length <= MAX_LABELS, { message: `at most ${MAX_LABELS} entries` });

const status = z.enum(["firing", "resolved"], { error: "expected firing or resolved" });

/** One alert of an Alertmanager webhook v4 body (fields the server does not use are dropped). */
export const AlertmanagerAlertSchema = z
  .object({
    status,
    labels: stringMap.refine((l) => typeof l.alertname === "string" && l.alertname.length > 0, {
      message: "an alertname label is required",
    }),
    annotations: stringMap.default({}),
    startsAt: amTime.describe("The alert's identity together with the fingerprint."),
    endsAt: amTime.describe("Alertmanager sends the zero time (0001-01-01) while no end is known."),
    generatorURL: z.string().max(MAX_VALUE).default(""),
    fingerprint: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/, "expected 1-128 letters, digits, - or _ (Alertmanager's hex fingerprint)"),
  })
  .openapi("AlertmanagerAlert");
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlertSchema>;

export const AlertmanagerPayloadSchema = z
  .object({
    version: z.literal("4", { error: 'expected "4" (Alertmanager webhook version 4)' }),
    status,
    receiver: z.string().max(MAX_KEY).default(""),
    alerts: z.array(AlertmanagerAlertSchema).max(MAX_ALERTS, `at most ${MAX_ALERTS} alerts in one post`),
  })
  .openapi("AlertmanagerPayload");
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayloadSchema>;

/** What one post did: how many alerts were new, resolved an earlier row, or were resends. */
export const AlertReceiptSchema = z
  .object({
    received: z.number().int(),
    stored: z.number().int(),
    resolved: z.number().int(),
    repeated: z.number().int(),
  })
  .openapi("AlertReceipt");
export type AlertReceipt = z.infer<typeof AlertReceiptSchema>;

const time = z.string().openapi({ format: "date-time" });

export const AlertViewSchema = z
  .object({
    fingerprint: z.string(),
    alertname: z.string(),
    status: z.string().describe("firing | resolved"),
    startsAt: time,
    endsAt: time.nullable().describe("null while firing with no end known."),
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()),
    summary: z.string().nullable().describe("The `summary` annotation, null when it has none."),
    receivedAt: time,
    resolvedAt: time.nullable().describe("When a post turned it resolved; null while firing."),
    notified: z.array(z.string()).describe("Channels a message was enqueued for."),
    pipelineRunId: z
      .string()
      .nullable()
      .describe("The run whose pipeline's `notify:` rules were used (null: no pipeline matched)."),
    rollback: z
      .object({ runId: z.string(), service: z.string(), mode: z.string(), revision: z.number().int().nullable() })
      .nullable()
      .describe("The update this alert rolled back (`switch`: the update in progress switched back), or null."),
    noRollback: z
      .string()
      .nullable()
      .describe("Why it did not roll back, for an alert naming a service; null otherwise."),
  })
  .openapi("Alert");
export type AlertView = z.infer<typeof AlertViewSchema>;

/** Alert states a list can be filtered by. */
export const ALERT_STATES = ["firing", "resolved"] as const;
/** Largest number of alerts one list answers; the default when unset. */
export const MAX_ALERTS_LIMIT = 500;
export const DEFAULT_ALERTS_LIMIT = 50;
