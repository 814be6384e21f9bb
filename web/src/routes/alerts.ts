// Alerts: `POST /api/v1/alerts/alertmanager` (Alertmanager's webhook receiver) and
// `GET /api/v1/alerts` (`?state=firing|resolved&limit=N`). The receiver takes no API token:
// Alertmanager sends `Authorization: Bearer <token>` with the token of the server setting
// DOCKYARD_ALERT_TOKEN_FILE (its `http_config.authorization.credentials_file`), compared in constant
// time here, so the access table lists the route as `webhook` (passed by the guard, checked by the handler).
import type { Hono } from "hono";
import type { AppEnv, ErrorBody, WebServices } from "../types";
import { ALERT_STATES, MAX_ALERTS_LIMIT } from "../alert-types";
import { invalid, onlyParams, smallBody, wholeParam } from "./input";
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

export function alertRoutes(api: Hono<AppEnv>, services: WebServices, opts: AlertRouteOptions): void {
  api.post(
    "/alerts/alertmanager",
    async (c, next) => {
      // Before the body is read: an unconfigured or unauthenticated sender costs nothing.
      if (opts.token === null)
        return c.json({ error: { code: "unavailable", message: NOT_CONFIGURED } } satisfies ErrorBody, 503);
      const auth = c.req.header("authorization") ?? "";
      if (!auth.startsWith("Bearer ") || !opts.matches(auth.slice(7).trim(), opts.token))
        return c.json({ error: { code: "unauthenticated", message: AUTH_MESSAGE } } satisfies ErrorBody, 401, {
          "www-authenticate": "Bearer",
        });
      return next();
    },
    smallBody(MAX_ALERT_BODY_BYTES),
    async (c) => {
      onlyParams(c, []);
      const payload = parseAlertPayload(await c.req.text());
      return c.json({ receipt: await services.receiveAlerts(payload) });
    },
  );
  api.get("/alerts", async (c) => {
    onlyParams(c, ["state", "limit"]);
    const state = c.req.query("state") || undefined;
    if (state !== undefined && !(ALERT_STATES as readonly string[]).includes(state))
      throw invalid(`invalid state '${state.slice(0, 32)}': expected one of ${ALERT_STATES.join(", ")}`);
    const limit = wholeParam(c, "limit", 1, MAX_ALERTS_LIMIT);
    return c.json({ alerts: await services.listAlerts({ state, limit }) });
  });
}
