// The Alertmanager webhook v4 body, checked before anything is stored: bounded (the route's body
// limit, at most MAX_ALERTS alerts, bounded labels), every refusal naming the field
// (`alerts[2].startsAt: ...`). Unknown fields are dropped: Alertmanager adds fields over versions.
import { z } from "zod";
import type { AlertmanagerPayload } from "../alert-types";
import { invalid } from "./input";

/** Largest body Alertmanager may post (bytes). */
export const MAX_ALERT_BODY_BYTES = 1024 * 1024;
/** Most alerts in one post (Alertmanager's max_alerts should be set at or under it). */
export const MAX_ALERTS = 1000;
const MAX_LABELS = 64;
const MAX_KEY = 128;
const MAX_VALUE = 4096;

// RFC 3339 as Alertmanager writes it (Go's time.Time: up to nanoseconds, Z or an offset).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const time = z
  .string()
  .max(40)
  .refine((s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)), {
    message: "expected an RFC 3339 time like 2026-01-02T03:04:05Z",
  });

const stringMap = z
  .record(
    z.string().min(1).max(MAX_KEY, `a name is at most ${MAX_KEY} characters`),
    z.string().max(MAX_VALUE, `a value is at most ${MAX_VALUE} characters`),
  )
  .refine((m) => Object.keys(m).length <= MAX_LABELS, { message: `at most ${MAX_LABELS} entries` });

const status = z.enum(["firing", "resolved"], { error: "expected firing or resolved" });

const alert = z.object({
  status,
  labels: stringMap.refine((l) => typeof l.alertname === "string" && l.alertname.length > 0, {
    message: "an alertname label is required",
  }),
  annotations: stringMap.default({}),
  startsAt: time,
  endsAt: time,
  generatorURL: z.string().max(MAX_VALUE).default(""),
  fingerprint: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/, "expected 1-128 letters, digits, - or _ (Alertmanager's hex fingerprint)"),
});

const payload = z.object({
  version: z.literal("4", { error: 'expected "4" (Alertmanager webhook version 4)' }),
  status,
  receiver: z.string().max(MAX_KEY).default(""),
  alerts: z.array(alert).max(MAX_ALERTS, `at most ${MAX_ALERTS} alerts in one post`),
});

function fieldPath(path: PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p).slice(0, 64)}`;
  return out || "body";
}

/** The body as a webhook payload, or a 400 naming the first bad field (all of them in `problems`). */
export function parseAlertPayload(text: string): AlertmanagerPayload {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid("request body must be JSON: an Alertmanager webhook (version 4) body");
  }
  const parsed = payload.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 20).map((i) => `${fieldPath(i.path)}: ${i.message}`);
  throw Object.assign(invalid(problems[0]!), { problems });
}
