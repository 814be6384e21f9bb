// The OpenAPI document: it validates against the OpenAPI 3.1 schema (@readme/openapi-parser),
// covers every route the app registers except the UI pages listed below, and is served with its
// reference page without a token. Positive control: a route added without a definition is named.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileErrors, validate } from "@readme/openapi-parser";
import { createApp } from "./app";
import type { WebServices } from "./types";
import { openApiDocument } from "./openapi";
import { undocumentedRoutes } from "./openapi-coverage";
import type { OpenApiDocument } from "./ui/api-docs-page";

/**
 * Routes the document leaves out on purpose: the web UI's pages and forms (HTML for browsers, with a session
 * cookie, not the API), and the document and its page themselves.
 */
const NOT_API = [
  "GET /api/v1/openapi.json",
  "GET /api/v1/docs",
  "GET /login",
  "POST /login",
  "POST /logout",
  "GET /ui/assets/:name",
  "GET /",
  "GET /runs/:id",
  "POST /runs",
  "POST /runs/:id/cancel",
  "POST /runs/:id/rerun",
  "POST /runs/:id/rerun-failed",
  "POST /runs/:id/stages/:stage/approve",
  "POST /runs/:id/stages/:stage/reject",
  "GET /approvals",
  "GET /agents",
  "POST /agents/:id/drain",
  "POST /agents/:id/undrain",
  "POST /agents/:id/revoke",
  "GET /services",
  "POST /services/:name/rollback",
  "GET /environments",
  "GET /alerts",
  "GET /audit",
];

// No route is called: every service rejects.
const services = new Proxy({} as WebServices, { get: () => async () => Promise.reject(new Error("not called")) });
const access = { routeAccess: (route: string) => (route.includes(" /api/") ? "viewer" : "public"), allows: () => true };
const publicDocs = {
  routeAccess: (route: string) =>
    route === "GET /api/v1/openapi.json" || route === "GET /api/v1/docs" ? "public" : access.routeAccess(route),
  allows: () => false,
};

describe("the OpenAPI document", () => {
  const app = createApp(services, { access, maxBodyBytes: 1024, version: "9.8.7" });
  const doc = openApiDocument(app, "9.8.7");

  it("validates against the OpenAPI 3.1 schema", async () => {
    const result = await validate(structuredClone(doc) as never);
    assert.ok(result.valid, compileErrors(result));
    assert.equal((doc as unknown as { openapi: string }).openapi, "3.1.0");
    assert.equal(doc.info.title, "Dockyard");
    assert.equal(doc.info.version, "9.8.7");
  });

  it("describes every route the app registers, but the UI's", () => {
    assert.deepEqual(undocumentedRoutes(app, doc, NOT_API), []);
    const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item));
    assert.ok(operations.length >= 45, `the document has the API's operations (${operations.length})`);
    // Each exemption is a route the app has (a stale list would hide nothing, but would mislead).
    const registered = new Set(app.routes.map((r) => `${r.method} ${r.path}`));
    for (const route of NOT_API) assert.ok(registered.has(route), `${route} is registered`);
  });

  it("positive control: a route added without a definition is named", () => {
    const copy = createApp(services, { access, maxBodyBytes: 1024 });
    copy.get("/api/v1/undocumented/:thing", (c) => c.json({}));
    assert.deepEqual(undocumentedRoutes(copy, openApiDocument(copy, "1"), NOT_API), [
      "GET /api/v1/undocumented/:thing",
    ]);
  });

  it("describes what the routes answer: the run object, SSE and text content types, the error body", () => {
    const schemas = doc.components?.schemas ?? {};
    for (const name of ["Run", "Stage", "Attempt", "Agent", "Error", "StageEvent", "LogEvent", "RunStateEvent"])
      assert.ok(schemas[name], `components.schemas.${name}`);
    const op = (path: string, method = "get") => doc.paths[path]![method]!;
    assert.ok(op("/api/v1/runs/{id}/events").responses!["200"]!.content!["text/event-stream"]);
    assert.ok(op("/api/v1/runs/{id}/stages/{stage}/logs").responses!["200"]!.content!["text/plain; charset=utf-8"]);
    assert.deepEqual(op("/api/v1/runs/{id}").responses!["200"]!.content!["application/json"]!.schema, {
      type: "object",
      properties: { run: { $ref: "#/components/schemas/Run" } },
      required: ["run"],
    });
    assert.ok(op("/api/v1/users", "post").requestBody, "a JSON body is documented");
    assert.deepEqual(op("/api/v1/runs").security, [{ bearer: [] }]);
  });

  it("is served, with its reference page, without a token; the page lists every operation and loads nothing else", async () => {
    const served = createApp(services, { access: publicDocs, maxBodyBytes: 1024 });
    const res = await served.request("/api/v1/openapi.json");
    assert.equal(res.status, 200);
    const got = (await res.json()) as OpenApiDocument;
    assert.deepEqual(Object.keys(got.paths).sort(), Object.keys(doc.paths).sort());
    const page = await served.request("/api/v1/docs");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    const html = await page.text();
    for (const [path, item] of Object.entries(doc.paths))
      for (const method of Object.keys(item)) assert.ok(html.includes(`${method.toUpperCase()} ${path}`), path);
    // No CDN: every src/href is the server's own (a path) or an anchor on the page.
    const urls = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    assert.ok(urls.length > 0);
    for (const u of urls) assert.match(u, /^[/#]/, u);
    // Positive control for the access check: a token route still asks for one.
    assert.equal((await served.request("/api/v1/runs")).status, 401);
  });
});

describe("validation errors name the field", () => {
  const auth = { authorization: "Bearer dya_x" };
  const authed = createApp(
    new Proxy({} as WebServices, {
      get: (_t, name) =>
        name === "authenticate"
          ? async () => ({ userId: "u", user: "a", roles: ["admin"] })
          : async () => Promise.reject(new Error("not called")),
    }),
    { access, maxBodyBytes: 1024 },
  );

  for (const [method, path, body, field, message] of [
    ["GET", "/api/v1/runs?limit=abc", undefined, "limit", /^invalid limit 'abc'/],
    ["GET", "/api/v1/runs/stream?lmit=1", undefined, "lmit", /^unknown query parameter 'lmit': expected limit$/],
    ["POST", "/api/v1/users", '{"name":"a","roles":[1]}', "roles", /^roles\[0\] must be a string$/],
    ["POST", "/api/v1/agents/nope/drain", undefined, "id", /an agent id is a UUID/],
    ["POST", "/api/v1/services/web/rollback", '{"revision":0}', "revision", /^revision must be a whole number/],
  ] as const) {
    it(`${method} ${path}`, async () => {
      const res = await authed.request(path, { method, headers: auth, ...(body && { body }) });
      assert.equal(res.status, 400);
      const got = (await res.json()) as { error: { code: string; message: string; field?: string } };
      assert.equal(got.error.code, "invalid");
      assert.equal(got.error.field, field);
      assert.match(got.error.message, message);
    });
  }
});
