// The HTTP edge's one access check, driven by the server's table (RouteAccess): finds the
// route the request matched, then lets it through (public, or webhook: signed, checked by its handler), asks for a
// token (401) and the
// role (403), or refuses a route the table does not name (fail closed).
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { AppEnv, ErrorBody, RouteAccess, WebCaller, WebServices } from "./types";
import type { SessionStore } from "./ui/session-store";
import { isUiPath, sessionCaller } from "./ui/session-auth";

function refuse(code: "unauthenticated" | "permission_denied", message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/**
 * `METHOD /path` of the route that answers this request, or null (404): the first matched one that is not middleware,
 * since Hono runs them in registration order and the first answers (`GET /runs/stream` also matches `/runs/:id`).
 */
export function routeKey(c: Context): string | null {
  const endpoint = matchedRoutes(c).find((r) => r.method !== "ALL");
  return endpoint ? `${endpoint.method} ${endpoint.path}` : null;
}

/**
 * A bearer token (API clients) or, without one, the UI's session cookie (browsers; a POST must
 * carry the session's CSRF token). A UI page asked for without either redirects to /login.
 */
export function accessGuard(
  services: WebServices,
  access: RouteAccess,
  sessions: SessionStore,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const route = routeKey(c);
    if (route === null) return next(); // answered 404 by notFound
    const needed = access.routeAccess(route);
    // A webhook route's credential is its signature, which its handler checks (the body is needed for it).
    if (needed === "public" || needed === "webhook") return next();
    if (needed === undefined) throw refuse("permission_denied", `${route} has no entry in the access table; refused`);
    const auth = c.req.header("authorization") ?? "";
    let caller: WebCaller;
    if (auth.startsWith("Bearer ")) {
      caller = await services.authenticate(auth.slice(7).trim());
      c.set("csrf", null);
    } else {
      const viaSession = await sessionCaller(c, services, sessions);
      if (viaSession === null) {
        // A browser (it asks for HTML) goes to the login form; a script gets the JSON 401.
        if (isUiPath(c.req.path) && (c.req.header("accept") ?? "").includes("text/html")) {
          return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
        }
        return c.json(
          {
            error: { code: "unauthenticated", message: "missing 'Authorization: Bearer <token>' header" },
          } satisfies ErrorBody,
          401,
        );
      }
      caller = viaSession.caller;
      c.set("csrf", viaSession.session.csrf);
    }
    if (!access.allows(caller.roles, needed)) {
      throw refuse(
        "permission_denied",
        `${route} needs the '${needed}' role; user '${caller.user}' has ${caller.roles.join(", ") || "none"}`,
      );
    }
    c.set("caller", caller);
    return next();
  };
}
