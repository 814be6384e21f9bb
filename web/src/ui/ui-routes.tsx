/** @jsxImportSource hono/jsx */
// The web UI's routes, on the app itself (pages under `/`, assets under /ui/assets). Pages
// call the same WebServices as the JSON API; the access guard has already authenticated the
// session (and checked the CSRF token of every POST) and the route's role from the table.
import { randomBytes } from "node:crypto";
import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { AppEnv, RouteAccess, WebServices } from "../types";
import { RUN_STATES } from "../states";
import type { PageContext } from "./layout";
import { LoginPage } from "./login-page";
import { RunPage } from "./run-page";
import { ApprovalsPage, RunsPage } from "./list-pages";
import { AgentsPage, AlertsPage, AuditPage, EnvironmentsPage, ServicesPage } from "./farm-pages";
import { SESSION_COOKIE } from "./session-auth";
import { secretsMatch, type SessionStore } from "./session-store";
import { assetRoutes } from "./assets";

const LOGIN_CSRF_COOKIE = "dy_login_csrf";
const MAX_TOKEN = 512;
const MAX_PIPELINE_BYTES = 256 * 1024;

function invalid(message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code: "invalid" });
}

/** `next` after login: a path on this site only (no `//host`, no scheme). */
function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/(?![/\\])[^\s]*$/.test(next) && next.length < 500 ? next : "/";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function agentId(c: Context): string {
  const id = c.req.param("id") ?? "";
  if (!UUID.test(id)) throw invalid(`invalid id '${id.slice(0, 40)}': an agent id is a UUID`);
  return id;
}

async function field(c: Context, name: string, max: number): Promise<string> {
  const v = (await c.req.parseBody())[name];
  const s = typeof v === "string" ? v : "";
  if (s.length > max) throw invalid(`${name} is ${s.length} characters; the limit is ${max}`);
  return s;
}

export function uiRoutes(app: Hono<AppEnv>, services: WebServices, access: RouteAccess, sessions: SessionStore): void {
  const ctxOf = (c: Context<AppEnv>): PageContext => {
    const caller = c.get("caller");
    return {
      caller,
      csrf: c.get("csrf") ?? "",
      can: (route) => {
        const needed = access.routeAccess(route);
        return needed !== undefined && (needed === "public" || access.allows(caller.roles, needed));
      },
    };
  };
  const cookieOpts = { httpOnly: true, sameSite: "Strict", path: "/" } as const;

  assetRoutes(app);

  app.get("/login", (c) => {
    const csrf = randomBytes(24).toString("base64url");
    setCookie(c, LOGIN_CSRF_COOKIE, csrf, { ...cookieOpts, maxAge: 3600 });
    return c.html(<LoginPage csrf={csrf} next={safeNext(c.req.query("next"))} error={null} />);
  });
  app.post("/login", async (c) => {
    const expected = getCookie(c, LOGIN_CSRF_COOKIE) ?? "";
    const presented = await field(c, "_csrf", 100);
    const next = safeNext(await field(c, "next", 500));
    if (expected === "" || !secretsMatch(presented, expected)) {
      // 400, not 403: nobody is authenticated yet; the form is malformed or forged.
      throw invalid("missing or wrong _csrf: reload the login page");
    }
    const token = (await field(c, "token", MAX_TOKEN)).trim();
    const again = (error: string) => {
      const csrf = randomBytes(24).toString("base64url");
      setCookie(c, LOGIN_CSRF_COOKIE, csrf, { ...cookieOpts, maxAge: 3600 });
      return c.html(<LoginPage csrf={csrf} next={next} error={error} />, 401);
    };
    if (token === "") return again("token is required");
    try {
      await services.authenticate(token);
    } catch (err) {
      if ((err as { code?: string }).code === "unauthenticated")
        return again("that token is not valid (revoked, unknown, or its user is disabled)");
      throw err;
    }
    const session = sessions.create(token);
    deleteCookie(c, LOGIN_CSRF_COOKIE, { path: "/" });
    setCookie(c, SESSION_COOKIE, session.id, cookieOpts);
    return c.redirect(next, 303);
  });
  app.post("/logout", (c) => {
    const id = getCookie(c, SESSION_COOKIE);
    if (id) sessions.delete(id);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.redirect("/login", 303);
  });

  app.get("/", async (c) => {
    const s = c.req.query("state") || undefined;
    const state = s !== undefined && (RUN_STATES as readonly string[]).includes(s) ? s : undefined;
    if (s !== undefined && state === undefined)
      throw invalid(`invalid state '${s.slice(0, 32)}': expected one of ${RUN_STATES.join(", ")}`);
    return c.html(
      <RunsPage runs={(await services.listRuns({ limit: 50, state })).runs} state={state} ctx={ctxOf(c)} />,
    );
  });
  app.post("/runs", async (c) => {
    const yaml = await field(c, "pipeline", MAX_PIPELINE_BYTES);
    if (yaml.trim() === "") throw invalid("pipeline is required: paste a pipeline file");
    const run = await services.submitRun(new TextEncoder().encode(yaml), "web:dockyard.yml", "web", c.get("caller"));
    return c.redirect(`/runs/${run.id}`, 303);
  });
  app.get("/runs/:id", async (c) => c.html(<RunPage run={await services.getRun(c.req.param("id"))} ctx={ctxOf(c)} />));
  app.post("/runs/:id/cancel", async (c) => {
    const run = await services.cancelRun(c.req.param("id"), c.get("caller"));
    return c.redirect(`/runs/${run.id}`, 303);
  });
  // A new run of a finished one (the whole run, or only the stages that did not succeed).
  for (const [path, failedOnly] of [
    ["/runs/:id/rerun", false],
    ["/runs/:id/rerun-failed", true],
  ] as const) {
    app.post(path, async (c) => {
      const run = await services.rerunRun(c.req.param("id") ?? "", { failedOnly }, c.get("caller"));
      return c.redirect(`/runs/${run.id}`, 303);
    });
  }
  const decide = (approve: boolean) => async (c: Context<AppEnv>) => {
    const comment = await field(c, "comment", 1000);
    const run = await services.decideApproval(
      c.req.param("id") ?? "",
      c.req.param("stage") ?? "",
      { approve, comment },
      c.get("caller"),
    );
    return c.redirect(`/runs/${run.id}`, 303);
  };
  app.post("/runs/:id/stages/:stage/approve", decide(true));
  app.post("/runs/:id/stages/:stage/reject", decide(false));

  app.get("/approvals", async (c) =>
    c.html(<ApprovalsPage runs={(await services.listRuns({ limit: 200, state: "running" })).runs} ctx={ctxOf(c)} />),
  );
  app.get("/agents", async (c) => c.html(<AgentsPage agents={await services.listAgents()} ctx={ctxOf(c)} />));
  for (const [verb, drain] of [
    ["drain", true],
    ["undrain", false],
  ] as const) {
    app.post(`/agents/:id/${verb}`, async (c) => {
      await services.drainAgent(agentId(c), drain, c.get("caller"));
      return c.redirect("/agents", 303);
    });
  }
  app.post("/agents/:id/revoke", async (c) => {
    // The form's required checkbox; a POST without it (a script, a forged form) changes nothing.
    if ((await field(c, "confirm", 10)) !== "yes") throw invalid("confirm is required: tick the box to revoke");
    await services.revokeAgent(agentId(c), c.get("caller"));
    return c.redirect("/agents", 303);
  });
  app.get("/services", async (c) => {
    const list = await services.listServices();
    const withHistory = await Promise.all(
      list.map(async (service) => ({ service, history: await services.serviceHistory(service.name) })),
    );
    return c.html(<ServicesPage services={withHistory} ctx={ctxOf(c)} />);
  });
  app.post("/services/:name/rollback", async (c) => {
    const reason = (await field(c, "reason", 500)).trim();
    if (reason === "") throw invalid("reason is required: say why you roll back");
    const r = await services.rollbackService(c.req.param("name"), { reason }, c.get("caller"));
    return c.redirect(r.mode === "run" ? `/runs/${r.runId}` : "/services", 303);
  });
  app.get("/environments", async (c) =>
    c.html(<EnvironmentsPage environments={await services.listEnvironments()} ctx={ctxOf(c)} />),
  );
  app.get("/alerts", async (c) =>
    c.html(<AlertsPage alerts={await services.listAlerts({ limit: 100 })} ctx={ctxOf(c)} />),
  );
  app.get("/audit", async (c) =>
    c.html(<AuditPage entries={await services.listAudit({ limit: 100 })} ctx={ctxOf(c)} />),
  );
}
