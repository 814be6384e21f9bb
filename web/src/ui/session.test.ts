// The UI's login, session cookie and CSRF check in the app alone (stub services; a tiny role
// table standing in for the server's). The browser journey over a real farm is
// test/src/e2e/web-ui.test.ts.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../app";
import type { RouteAccess, RunView, WebServices } from "../types";
import { MemorySessionStore } from "./session-store";

const TOKENS: Record<string, string[]> = { tok_viewer_0123456789: ["viewer"], tok_admin_0123456789: ["admin"] };
const RUN: RunView = {
  id: "r1",
  name: "demo#1",
  state: "running",
  startedBy: "ann",
  source: null,
  branch: null,
  commit: null,
  createdAt: "2026-01-01T00:00:00.000Z",
  finishedAt: null,
  durationMs: null,
  stages: [],
};
const ROLES: Record<string, string> = {
  "GET /login": "public",
  "POST /login": "public",
  "GET /ui/assets/:name": "public",
  "POST /logout": "viewer",
  "GET /": "viewer",
  "GET /runs/:id": "viewer",
  "POST /runs/:id/cancel": "operator",
};
const access: RouteAccess = {
  routeAccess: (r) => ROLES[r],
  allows: (roles, role) => roles.includes("admin") || roles.includes(role),
};

function app(sessions = new MemorySessionStore()) {
  let cancels = 0;
  const services = {
    authenticate: async (token: string) => {
      const roles = TOKENS[token];
      if (!roles) throw Object.assign(new Error("unknown or revoked API token"), { code: "unauthenticated" });
      return { userId: token, user: roles[0]!, roles };
    },
    listRuns: async () => ({ runs: [RUN], more: false }),
    getRun: async () => RUN,
    cancelRun: async () => {
      cancels++;
      return RUN;
    },
  } as unknown as WebServices;
  return { app: createApp(services, { access, maxBodyBytes: 1024, sessions }), cancels: () => cancels };
}

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(";")[0]!
    .slice(name.length + 1) ?? "";

async function login(a: ReturnType<typeof app>["app"], token: string) {
  const form = await a.request("/login");
  const loginCsrf = cookieOf(form, "dy_login_csrf");
  const body = new URLSearchParams({ _csrf: loginCsrf, token, next: "/" });
  const res = await a.request("/login", {
    method: "POST",
    body,
    headers: { cookie: `dy_login_csrf=${loginCsrf}`, "content-type": "application/x-www-form-urlencoded" },
  });
  return res;
}

async function sessionOf(a: ReturnType<typeof app>["app"], token: string) {
  const res = await login(a, token);
  assert.equal(res.status, 303);
  const cookie = `dy_session=${cookieOf(res, "dy_session")}`;
  const page = await (await a.request("/runs/r1", { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1] ?? "";
  return { cookie, csrf, page };
}

describe("web UI sessions", () => {
  it("a page without a session sends a browser to the login form and a script gets 401", async () => {
    const res = await app().app.request("/runs/r1", { headers: { accept: "text/html" } });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/login?next=%2Fruns%2Fr1");
    assert.equal((await app().app.request("/runs/r1")).status, 401);
  });

  it("a good token logs in: an opaque HttpOnly SameSite=Strict cookie; a bad one is refused 401", async () => {
    const { app: a } = app();
    const bad = await login(a, "nope");
    assert.equal(bad.status, 401);
    assert.match(await bad.text(), /that token is not valid/);
    const ok = await login(a, "tok_viewer_0123456789");
    const set = ok.headers.getSetCookie().find((c) => c.startsWith("dy_session="))!;
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Path=\//);
    assert.doesNotMatch(set, /tok_viewer/, "the cookie is not the token");
  });

  it("login refuses a POST without the login form's CSRF value", async () => {
    const res = await app().app.request("/login", {
      method: "POST",
      body: new URLSearchParams({ token: "tok_admin_0123456789" }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(res.status, 400);
  });

  it("a viewer sees no Cancel and cannot cancel; an admin sees it, and a POST needs the session's CSRF token", async () => {
    const t = app();
    const viewer = await sessionOf(t.app, "tok_viewer_0123456789");
    assert.doesNotMatch(viewer.page, /Cancel run/);
    const admin = await sessionOf(t.app, "tok_admin_0123456789");
    assert.match(admin.page, /Cancel run/, "positive control: the button is rendered for a role that may");
    const post = (cookie: string, csrf: string | null) =>
      t.app.request("/runs/r1/cancel", {
        method: "POST",
        body: new URLSearchParams(csrf === null ? {} : { _csrf: csrf }),
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      });
    assert.equal((await post(viewer.cookie, viewer.csrf)).status, 403, "viewer with its own CSRF token: role");
    assert.equal((await post(admin.cookie, null)).status, 403, "no CSRF token");
    assert.equal((await post(admin.cookie, viewer.csrf)).status, 403, "another session's CSRF token");
    assert.equal(t.cancels(), 0);
    assert.equal((await post(admin.cookie, admin.csrf)).status, 303, "positive control: the right token passes");
    assert.equal(t.cancels(), 1);
  });

  it("an expired session and a logged-out one no longer open pages", async () => {
    const sessions = new MemorySessionStore({ ttlMs: 60_000 });
    const t = app(sessions);
    const s = await sessionOf(t.app, "tok_admin_0123456789");
    assert.equal((await t.app.request("/", { headers: { cookie: s.cookie } })).status, 200);
    const out = await t.app.request("/logout", {
      method: "POST",
      body: new URLSearchParams({ _csrf: s.csrf }),
      headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded" },
    });
    assert.equal(out.status, 303);
    assert.equal((await t.app.request("/", { headers: { cookie: s.cookie } })).status, 401);
    const id = sessions.create("tok_admin_0123456789", Date.now() - 61_000).id;
    assert.equal((await t.app.request("/", { headers: { cookie: `dy_session=${id}` } })).status, 401, "expired");
  });
});
