// Incoming decision webhooks for chat tools: `POST /hooks/v1/approvals/:hook`, signed as
// Standard Webhooks. No API token: the signature is the credential (the server verifies it,
// the timestamp and the id's freshness before deciding anything), so the access table lists
// the route as `webhook` (passed by the guard, checked by the handler). The body is read raw, because the signature
// covers its exact bytes.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { smallBody } from "./input";
import type { AppEnv, WebServices } from "../types";
import { RunViewSchema } from "../run-types";
import { errorResponses, jsonResponse } from "./validate";

/** Largest body accepted (bytes): a decision and a comment. */
export const MAX_HOOK_BODY_BYTES = 8 * 1024;
const HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;

const hookDecision = createRoute({
  method: "post",
  path: "/hooks/v1/approvals/{hook}",
  tags: ["webhooks"],
  summary: "A decision on an approval stage from a chat tool, signed as Standard Webhooks",
  middleware: [smallBody(MAX_HOOK_BODY_BYTES)] as const,
  request: {
    params: z.object({ hook: z.string().openapi({ description: "The hook's name (its key signs the body)." }) }),
    // Documented only: the server checks them with the signature (a zod schema here would answer 400 first).
    headers: z.object({
      "webhook-id": z.string().optional(),
      "webhook-timestamp": z.string().optional().openapi({ description: "Unix seconds." }),
      "webhook-signature": z
        .string()
        .optional()
        .openapi({ description: "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`" }),
    }),
    body: {
      required: true,
      description: "The decision, as the hook's template maps it; verified against the signature byte for byte.",
      content: { "application/json": { schema: { type: "object" as const } } },
    },
  },
  responses: {
    200: jsonResponse(
      z.object({ run: RunViewSchema, stage: z.string(), decision: z.string(), by: z.string() }),
      "The decision taken",
    ),
    ...errorResponses(400, 401, 403, 409, 413),
  },
});

export function hookRoutes(app: OpenAPIHono<AppEnv>, services: WebServices): void {
  app.openapi(hookDecision, async (c) => {
    const headers: Record<string, string> = {};
    for (const h of HEADERS) {
      const v = c.req.header(h);
      if (v !== undefined) headers[h] = v;
    }
    const result = await services.hookDecision({ hook: c.req.param("hook"), headers, body: await c.req.text() });
    return c.json(result, 200);
  });
}
