// Services: `GET /services` (all), `GET /services/:name`, `GET /services/:name/history`
// and `POST /services/:name/rollback` with an optional JSON body `{ "revision": N, "reason": "..." }`
// (the alert loop's entry point: while an update holds the service it switches back at once,
// otherwise a rollback run starts; 202 with which of the two and its run).
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, WebServices } from "../types";
import { RollbackViewSchema, ServiceHistoryViewSchema, ServiceViewSchema } from "../service-types";
import { smallBody } from "./input";
import { bodyObject, nameParam, queryObject } from "./fields";
import { AUTH_ERRORS, BEARER, documentedBody, errorResponses, jsonBody, jsonResponse } from "./validate";

const MAX_BODY_BYTES = 8 * 1024;
const MAX_REASON = 500;
const MAX_NAME = 63;
const REVISION_MESSAGE = "revision must be a whole number from 1 (or absent: the previous revision)";

export const RollbackBodySchema = bodyObject(
  {
    revision: z
      .number({ error: REVISION_MESSAGE })
      .int({ error: REVISION_MESSAGE })
      .min(1, { error: REVISION_MESSAGE })
      .nullish()
      .transform((v) => v ?? undefined)
      .openapi({ description: "The revision to roll to (absent: the previous one)." }),
    reason: z
      .string({ error: "reason must be a string" })
      .max(MAX_REASON, {
        error: (iss) => `reason is ${(iss.input as string).length} characters; the limit is ${MAX_REASON}`,
      })
      .nullish()
      .transform((v) => v ?? ""),
  },
  "only revision and reason are accepted",
);
const ServiceParams = z.object({ name: nameParam("service", MAX_NAME) });
const tags = ["services"];

function routes(api: OpenAPIHono<AppEnv>) {
  return {
    list: createRoute({
      method: "get",
      path: "/services",
      tags,
      summary: "Every service, with its revision per host",
      security: BEARER,
      request: { query: queryObject({}) },
      responses: {
        200: jsonResponse(z.object({ services: z.array(ServiceViewSchema) }), "The services"),
        ...errorResponses(400, ...AUTH_ERRORS),
      },
    }),
    get: createRoute({
      method: "get",
      path: "/services/{name}",
      tags,
      summary: "One service",
      security: BEARER,
      request: { params: ServiceParams },
      responses: {
        200: jsonResponse(z.object({ service: ServiceViewSchema }), "The service"),
        ...errorResponses(400, ...AUTH_ERRORS, 404),
      },
    }),
    history: createRoute({
      method: "get",
      path: "/services/{name}/history",
      tags,
      summary: "Which revision ran where, newest first",
      security: BEARER,
      request: { params: ServiceParams },
      responses: {
        200: jsonResponse(z.object({ history: z.array(ServiceHistoryViewSchema) }), "The history"),
        ...errorResponses(400, ...AUTH_ERRORS, 404),
      },
    }),
    rollback: createRoute({
      method: "post",
      path: "/services/{name}/rollback",
      tags,
      summary: "Roll a service back (the update in progress switches back, or a rollback run starts)",
      security: BEARER,
      middleware: [
        smallBody(MAX_BODY_BYTES),
        jsonBody(RollbackBodySchema, '{ "revision": N, "reason": "..." } (or empty)', true),
      ] as const,
      request: { params: ServiceParams, body: documentedBody(api, "RollbackRequest", RollbackBodySchema, false) },
      responses: {
        202: jsonResponse(z.object({ rollback: RollbackViewSchema }), "Which of the two, and its run"),
        ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
      },
    }),
  };
}

/** Mounts the service routes on the API router (behind its authentication). */
export function serviceRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  const r = routes(api);
  api.openapi(r.list, async (c) => c.json({ services: await services.listServices() }, 200));
  api.openapi(r.get, async (c) => {
    const [service] = await services.listServices(c.req.valid("param").name);
    return c.json({ service: service! }, 200);
  });
  api.openapi(r.history, async (c) =>
    c.json({ history: await services.serviceHistory(c.req.valid("param").name) }, 200),
  );
  api.openapi(r.rollback, async (c) => {
    const { revision, reason } = c.get("body") as z.infer<typeof RollbackBodySchema>;
    const req = { ...(revision !== undefined && { revision }), reason };
    return c.json({ rollback: await services.rollbackService(c.req.valid("param").name, req, c.get("caller")) }, 202);
  });
}
