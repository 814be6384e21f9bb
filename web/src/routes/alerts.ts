// Alerts: `POST /api/v1/alerts/alertmanager` (Alertmanager's webhook receiver) and
// `GET /api/v1/alerts` (`?state=firing|resolved&limit=N`). The receiver takes no API token:
// Alertmanager sends `Authorization: Bearer <token>` with the token of the server setting
// DOCKYARD_ALERT_TOKEN_FILE (its `http_config.authorization.credentials_file`), compared in constant
// time here, so the access table lists the route as `webhook` (passed by the guard, checked by the handler).
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv, ErrorBody, WebServices } from "../types";
import {
  ALERT_STATES,
  AlertReceiptSchema,
  AlertViewSchema,
  AlertmanagerPayloadSchema,
  DEFAULT_ALERTS_LIMIT,
  MAX_ALERTS_LIMIT,
} from "../alert-types";
import { smallBody } from "./input";
import { enumQuery, queryObject, wholeQuery } from "./fields";
import { AUTH_ERRORS, BEARER, documentedBody, errorResponses, jsonResponse } from "./validate";
import { MAX_ALERT_BODY_BYTES, parseAlertPayload } from "./alert-payload";

export interface AlertRouteOptions {
  /** The receiver's bearer token; null: the receiver answers 503 (not configured). */
  token: string | null;
  /** Constant-time comparison (the app's, shared with /metrics). */
  matches(presented: string, expected: string): boolean;
}

const NOT_CONFIGURED =
  "alert receiver not configured: set the server setting DOCKYARD_ALERT_TOKEN_FILE to a file holding its token";
const AUTH_MESSAGE = "the alert receiver requires 'Authorization: Bearer <token>' with the alert token";

/** Before the body is read: an unconfigured or unauthenticated sender costs nothing. */
function alertToken(opts: AlertRouteOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (opts.token === null)
      return c.json({ error: { code: "unavailable", message: NOT_CONFIGURED } } satisfies ErrorBody, 503);
    const auth = c.req.header("authorization") ?? "";
    if (!auth.startsWith("Bearer ") || !opts.matches(auth.slice(7).trim(), opts.token))
      return c.json({ error: { code: "unauthenticated", message: AUTH_MESSAGE } } satisfies ErrorBody, 401, {
        "www-authenticate": "Bearer",
      });
    return next();
  };
}

export function alertRoutes(api: OpenAPIHono<AppEnv>, services: WebServices, opts: AlertRouteOptions): void {
  const receive = createRoute({
    method: "post",
    path: "/alerts/alertmanager",
    tags: ["alerts"],
    summary: "Alertmanager's webhook receiver (version 4 bodies), with the alert token as its bearer token",
    security: [{ alertToken: [] }],
    middleware: [alertToken(opts), smallBody(MAX_ALERT_BODY_BYTES)] as const,
    request: {
      query: queryObject({}),
      body: documentedBody(api, "AlertmanagerPayload", AlertmanagerPayloadSchema, true),
    },
    responses: {
      200: jsonResponse(z.object({ receipt: AlertReceiptSchema }), "What the post did"),
      ...errorResponses(400, 401, 413, 503),
    },
  });
  const list = createRoute({
    method: "get",
    path: "/alerts",
    tags: ["alerts"],
    summary: "Received alerts, newest first",
    security: BEARER,
    request: {
      query: queryObject({
        state: enumQuery("state", ALERT_STATES, "Only alerts in this state."),
        limit: wholeQuery("limit", 1, MAX_ALERTS_LIMIT, `Alerts (default ${DEFAULT_ALERTS_LIMIT}).`),
      }),
    },
    responses: {
      200: jsonResponse(z.object({ alerts: z.array(AlertViewSchema) }), "The alerts"),
      ...errorResponses(400, ...AUTH_ERRORS),
    },
  });
  api.openapi(receive, async (c) => {
    const payload = parseAlertPayload(await c.req.text());
    return c.json({ receipt: await services.receiveAlerts(payload) }, 200);
  });
  api.openapi(list, async (c) => {
    const { state, limit } = c.req.valid("query");
    return c.json({ alerts: await services.listAlerts({ state, limit }) }, 200);
  });
}
