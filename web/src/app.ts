// createApp(services) builds the Hono app: REST under /api/v1 (each route defined with its zod
// schemas, @hono/zod-openapi), its OpenAPI document and reference page, the webhooks, /metrics,
// /healthz and the web UI. No listen and no env here: the control plane mounts it.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, ErrorBody, RouteAccess, WebServices } from "./types";
import { accessGuard } from "./access";
import { rateLimit } from "./middleware/rate-limit";
import { smallBody } from "./routes/input";
import { validationHook } from "./routes/validate";
import { systemRoutes, tokenMatches } from "./routes/system";
import { openApiRoutes } from "./openapi";
import { MAX_ALERT_BODY_BYTES } from "./routes/alert-payload";
import { logRoutes } from "./routes/logs";
import { runRoutes } from "./routes/runs";
import { agentRoutes } from "./routes/agents";
import { approvalRoutes } from "./routes/approvals";
import { hookRoutes } from "./routes/hooks";
import { gitHookRoutes } from "./routes/git-hooks";
import { userRoutes } from "./routes/users";
import { channelRoutes } from "./routes/channels";
import { serviceRoutes } from "./routes/services";
import { alertRoutes } from "./routes/alerts";
import { artifactRoutes } from "./routes/artifacts";
import { scheduleRoutes } from "./routes/schedules";
import { liveRoutes, type LiveOptions } from "./routes/live";
import { uiRoutes } from "./ui/ui-routes";
import { uiErrorPage } from "./ui/error-page";
import { isUiPath } from "./ui/session-auth";
import { MemorySessionStore, type SessionStore } from "./ui/session-store";

const HTTP_STATUS: Record<string, 400 | 401 | 403 | 404 | 409 | 413 | 503 | 500> = {
  invalid: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  too_large: 413,
};

export interface AppOptions {
  /**
   * The release (cli/package.json "version"), the OpenAPI document's info.version. The server passes it: web may
   * not import another package's files. Unset: "unknown".
   */
  version?: string;
  /** Largest request body accepted (pipeline files). */
  maxBodyBytes: number;
  /**
   * Bearer token `GET /metrics` requires. Unset or null leaves /metrics open, for a
   * scraper on a trusted network. It is separate from the API tokens: an API token
   * does not open /metrics, and this token does not open /api/v1.
   */
  metricsToken?: string | null;
  /**
   * Bearer token Alertmanager presents to `POST /api/v1/alerts/alertmanager` (the server setting
   * DOCKYARD_ALERT_TOKEN_FILE). Unset or null: the receiver answers 503, not configured.
   */
  alertToken?: string | null;
  /**
   * Called with every error answered as a 500 (the client only sees "internal error; see the
   * server log"), so the server can log it with its stack. Must not throw.
   */
  onError?: (err: Error) => void;
  /**
   * Where the web UI's sessions live (default: this process's memory, 8 hours each). Sessions
   * are per replica: behind a load balancer without sticky routing a user logs in per replica.
   */
  sessions?: SessionStore;
  /** The role each route needs (the server's access table); a route it does not name is refused with 403. */
  access: RouteAccess;
  /** The live (SSE) streams: per-client buffer, heartbeat, patience; unset: 1 MiB, 15 s, 1 s, 30 s. */
  live?: Partial<Omit<LiveOptions, "onError">>;
  /**
   * Requests per second per API token under /api/v1 (a token bucket holding `burst`); over it, 429 with Retry-After.
   * Unset or null: no limit.
   */
  rateLimit?: { perSecond: number; burst: number; now?: () => number } | null;
}

export function createApp(services: WebServices, options: AppOptions): OpenAPIHono<AppEnv> {
  // A failed validation of a route's schemas throws the 400 that onError answers ({error: {code, message, field}}).
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.onError((err, c) => {
    const code =
      typeof (err as { code?: unknown }).code === "string" ? (err as unknown as { code: string }).code : "internal";
    const status = HTTP_STATUS[code] ?? 500;
    if (status === 500) options.onError?.(err);
    const message = status === 500 ? "internal error; see the server log" : err.message;
    if (isUiPath(c.req.path) && (c.req.header("accept") ?? "").includes("text/html")) {
      return c.html(uiErrorPage(status, message), status);
    }
    const body: ErrorBody = {
      error: {
        code: status === 500 ? "internal" : code,
        message: status === 500 ? "internal error; see the server log" : err.message,
      },
    };
    const field = (err as { field?: unknown }).field;
    if (status === 400 && typeof field === "string" && field !== "") body.error.field = field;
    const problems = (err as { problems?: unknown }).problems;
    if (Array.isArray(problems) && problems.length > 0) body.error.problems = problems.map(String);
    return c.json(body, status);
  });

  // Before the access check (a flood of bad tokens never reaches the database): the per-token rate limit.
  if (options.rateLimit) app.use("/api/v1/*", rateLimit(options.rateLimit));
  // Every route that takes a body has a bound of its own, most smaller; this one also bounds any route that forgets.
  app.use("*", smallBody(Math.max(options.maxBodyBytes, MAX_ALERT_BODY_BYTES)));
  // Before every route: the one check the access table drives (401 without a token, 403 without the role).
  const sessions = options.sessions ?? new MemorySessionStore();
  app.use("*", accessGuard(services, options.access, sessions));

  systemRoutes(app, services, options.metricsToken ?? null);

  const api = new OpenAPIHono<AppEnv>();
  // Before `/runs/:id`, which `/runs/stream` also matches.
  liveRoutes(api, services, {
    bufferBytes: 1024 * 1024,
    heartbeatMs: 15_000,
    slowMs: 1000,
    gapWaitMs: 30_000,
    ...options.live,
    onError: (err) => options.onError?.(err),
  });
  runRoutes(api, services, { maxBodyBytes: options.maxBodyBytes });
  logRoutes(api, services);
  approvalRoutes(api, services);
  agentRoutes(api, services);
  serviceRoutes(api, services);
  alertRoutes(api, services, { token: options.alertToken ?? null, matches: tokenMatches });
  artifactRoutes(api, services);
  userRoutes(api, services);
  channelRoutes(api, services);
  scheduleRoutes(api, services);
  app.route("/api/v1", api);
  hookRoutes(app, services);
  gitHookRoutes(app, services);
  openApiRoutes(app, options.version ?? "unknown");
  uiRoutes(app, services, options.access, sessions);

  app.notFound((c) =>
    c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}` } }, 404),
  );
  return app;
}
