// The Alertmanager webhook v4 body, checked before anything is stored against its schema
// (alert-types.ts): bounded (the route's body limit, at most MAX_ALERTS alerts, bounded labels),
// every refusal naming the field (`alerts[2].startsAt: ...`). Unknown fields are dropped:
// Alertmanager adds fields over versions.
import { AlertmanagerPayloadSchema, type AlertmanagerPayload } from "../alert-types";
import { invalid } from "./input";

/** Largest body Alertmanager may post (bytes). */
export const MAX_ALERT_BODY_BYTES = 1024 * 1024;
export { MAX_ALERTS } from "../alert-types";

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
  const parsed = AlertmanagerPayloadSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.slice(0, 20).map((i) => `${fieldPath(i.path)}: ${i.message}`);
  throw Object.assign(invalid(problems[0]!), { problems });
}
