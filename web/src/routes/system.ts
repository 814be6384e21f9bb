// The process's own routes: liveness (/healthz), readiness (/readyz) and Prometheus (/metrics).
import { createHash, timingSafeEqual } from "node:crypto";
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, ErrorBody, WebServices } from "../types";
import { errorResponses, jsonResponse, untyped } from "./validate";

const METRICS_AUTH_MESSAGE =
  "/metrics requires an 'Authorization: Bearer <metrics token>' header with the metrics token (API tokens are not accepted)";

/** Compares digests, so neither the length nor a common prefix of the token leaks through timing. */
export function tokenMatches(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

const Health = z
  .object({ ok: z.boolean(), checks: z.record(z.string(), z.string()).describe('Each dependency: "ok" or why not.') })
  .openapi("Health");

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["system"],
  summary: "Liveness: the process answers",
  responses: { 200: jsonResponse(z.object({ ok: z.literal(true) }), "Alive") },
});
const readyz = createRoute({
  method: "get",
  path: "/readyz",
  tags: ["system"],
  summary: "Readiness: Postgres and NATS answer (each probed with a 1 s timeout)",
  responses: { 200: jsonResponse(Health, "Ready"), 503: jsonResponse(Health, "Not ready: `checks` names what failed") },
});
const metrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["system"],
  summary: "Prometheus metrics (the metrics token as bearer token, when the server has one)",
  security: [{ metricsToken: [] }, {}],
  responses: {
    200: {
      description: "The Prometheus text exposition format",
      content: { "text/plain; version=0.0.4": { schema: { type: "string" as const } } },
    },
    ...errorResponses(401),
  },
});

export function systemRoutes(app: OpenAPIHono<AppEnv>, services: WebServices, metricsToken: string | null): void {
  // Liveness: the process answers. Whether it can do its work is /readyz.
  app.openapi(healthz, (c) => c.json({ ok: true as const }, 200));
  app.openapi(readyz, async (c) => {
    const h = await services.health();
    return h.ok ? c.json(h, 200) : c.json(h, 503);
  });
  app.openapi(metrics, async (c) => {
    if (metricsToken !== null) {
      const auth = c.req.header("authorization") ?? "";
      if (!auth.startsWith("Bearer ") || !tokenMatches(auth.slice(7).trim(), metricsToken)) {
        return c.json({ error: { code: "unauthenticated", message: METRICS_AUTH_MESSAGE } } satisfies ErrorBody, 401, {
          "www-authenticate": "Bearer",
        });
      }
    }
    const m = await services.metrics();
    return untyped(c.body(m.body, 200, { "content-type": m.contentType }));
  });
}
