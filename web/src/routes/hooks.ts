// Incoming decision webhooks for chat tools: `POST /hooks/v1/approvals/:hook`, signed as
// Standard Webhooks. No API token: the signature is the credential (the server verifies it,
// the timestamp and the id's freshness before deciding anything), so the access table lists
// the route as `webhook` (passed by the guard, checked by the handler). The body is read raw, because the signature
// covers its exact bytes.
import type { Hono } from "hono";
import { smallBody } from "./input";
import type { AppEnv, WebServices } from "../types";

/** Largest body accepted (bytes): a decision and a comment. */
export const MAX_HOOK_BODY_BYTES = 8 * 1024;
const HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"];

export function hookRoutes(app: Hono<AppEnv>, services: WebServices): void {
  app.post("/hooks/v1/approvals/:hook", smallBody(MAX_HOOK_BODY_BYTES), async (c) => {
    const headers: Record<string, string> = {};
    for (const h of HEADERS) {
      const v = c.req.header(h);
      if (v !== undefined) headers[h] = v;
    }
    const result = await services.hookDecision({ hook: c.req.param("hook"), headers, body: await c.req.text() });
    return c.json(result);
  });
}
