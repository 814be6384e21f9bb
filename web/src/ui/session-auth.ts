// How a browser request is authenticated: the session cookie names a server-side session;
// a request that changes something (not GET/HEAD) must also carry the session's CSRF token
// (form field `_csrf` or header `x-csrf-token`), else it is refused 403 before any handler.
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import type { AppEnv, WebCaller, WebServices } from "../types";
import { secretsMatch, type Session, type SessionStore } from "./session-store";

export const SESSION_COOKIE = "dy_session";

function refuse(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** Pages of the UI: what is not the JSON API, a webhook, or the probes. A request for one without a session is sent to /login. */
export function isUiPath(path: string): boolean {
  return !/^\/(api|hooks)\//.test(path) && !["/healthz", "/readyz", "/metrics"].includes(path);
}

async function csrfOf(c: Context): Promise<string> {
  const header = c.req.header("x-csrf-token");
  if (header) return header;
  const type = c.req.header("content-type") ?? "";
  if (type.startsWith("application/x-www-form-urlencoded") || type.startsWith("multipart/form-data")) {
    // Hono caches the parsed body, so the handler reads it again.
    const field = (await c.req.parseBody())["_csrf"];
    return typeof field === "string" ? field : "";
  }
  return "";
}

/**
 * The caller behind the request's session cookie, or null without a live one. Throws
 * permission_denied for a state-changing request whose CSRF token is missing or wrong, and
 * unauthenticated (the session is dropped) when the session's token no longer authenticates.
 */
export async function sessionCaller(
  c: Context<AppEnv>,
  services: WebServices,
  sessions: SessionStore,
): Promise<{ caller: WebCaller; session: Session } | null> {
  const id = getCookie(c, SESSION_COOKIE);
  if (!id) return null;
  const session = sessions.get(id);
  if (!session) return null;
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    const presented = await csrfOf(c);
    if (presented === "" || !secretsMatch(presented, session.csrf)) {
      throw refuse("permission_denied", "missing or wrong CSRF token: reload the page and try again");
    }
  }
  try {
    return { caller: await services.authenticate(session.token), session };
  } catch (err) {
    sessions.delete(session.id);
    throw err;
  }
}
