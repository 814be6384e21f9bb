// The OpenAPI 3.1 document of the API, generated from the routes' zod schemas (@hono/zod-openapi),
// at GET /api/v1/openapi.json, and its reference page at GET /api/v1/docs (ui/api-docs-page.tsx).
// Both are public (the access table): they describe the code, the same for every install, and hold
// no data; a client generator or a reader without a token can fetch them.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "./types";
import { ApiDocsPage, type OpenApiDocument } from "./ui/api-docs-page";
import {
  ApprovalEventViewSchema,
  GapEventViewSchema,
  LogEventViewSchema,
  RunStateEventViewSchema,
  StageEventViewSchema,
} from "./live-types";

export const OPENAPI_PATH = "/api/v1/openapi.json";
export const DOCS_PATH = "/api/v1/docs";

/** The document of every route registered with a definition on `app` (and the apps it mounted). */
export function openApiDocument(app: OpenAPIHono<AppEnv>, version: string): OpenApiDocument {
  // The SSE events' data schemas are referenced by description only: register them so they are components.
  for (const [name, schema] of [
    ["StageEvent", StageEventViewSchema],
    ["LogEvent", LogEventViewSchema],
    ["RunStateEvent", RunStateEventViewSchema],
    ["ApprovalEvent", ApprovalEventViewSchema],
    ["GapEvent", GapEventViewSchema],
  ] as const)
    app.openAPIRegistry.register(name, schema);
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API token (`dockyard tokens create`); its user's roles decide what it may do.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "alertToken", {
    type: "http",
    scheme: "bearer",
    description: "The alert token (the server setting DOCKYARD_ALERT_TOKEN_FILE), for Alertmanager only.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "metricsToken", {
    type: "http",
    scheme: "bearer",
    description: "The metrics token (not an API token), when the server has one.",
  });
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Dockyard",
      version,
      description:
        "The Dockyard build farm's HTTP API. Errors are `{error: {code, message, field?}}`; a 400 names the " +
        "parameter or field in `field`. Times are ISO-8601 UTC strings; a value that does not exist is null.",
    },
    servers: [{ url: "/" }],
  }) as unknown as OpenApiDocument;
}

/** Serves the document and its reference page; call after every documented route is registered. */
export function openApiRoutes(app: OpenAPIHono<AppEnv>, version: string): void {
  let doc: OpenApiDocument | null = null;
  // Built on the first request (every route is registered by then) and kept: the routes do not change.
  const document = () => (doc ??= openApiDocument(app, version));
  app.get(OPENAPI_PATH, (c) => c.json(document()));
  app.get(DOCS_PATH, (c) => c.html(ApiDocsPage({ doc: document(), jsonPath: OPENAPI_PATH })));
}
