// Stage artifacts: `GET /runs/:id/artifacts` (`?stage=` for one stage's) lists them;
// `GET /artifacts/:id` answers the bytes with their content type, as an attachment
// (and nosniff), so a stored HTML file or SVG is never rendered as the API's own page.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, WebServices } from "../types";
import { ArtifactViewSchema } from "../artifact-types";
import { nameParam, queryObject, textQuery } from "./fields";
import { AUTH_ERRORS, BEARER, errorResponses, jsonResponse, untyped } from "./validate";

const MAX_RUN_REF = 100;
const MAX_STAGE = 100;
const MAX_ID = 64;

const listArtifacts = createRoute({
  method: "get",
  path: "/runs/{id}/artifacts",
  tags: ["artifacts"],
  summary: "A run's stage artifacts",
  security: BEARER,
  request: {
    params: z.object({ id: nameParam("run", MAX_RUN_REF) }),
    query: queryObject({ stage: textQuery("stage", "stage", MAX_STAGE, "Only this stage's.") }),
  },
  responses: {
    200: jsonResponse(z.object({ artifacts: z.array(ArtifactViewSchema) }), "The artifacts"),
    ...errorResponses(400, ...AUTH_ERRORS, 404),
  },
});

const getArtifact = createRoute({
  method: "get",
  path: "/artifacts/{id}",
  tags: ["artifacts"],
  summary: "One artifact's bytes, as an attachment",
  security: BEARER,
  request: { params: z.object({ id: nameParam("artifact id", MAX_ID) }), query: queryObject({}) },
  responses: {
    200: {
      description: "The bytes, with the content type they were stored with",
      headers: {
        "x-dockyard-sha256": { schema: { type: "string" as const }, description: "The SHA-256 of the bytes." },
      },
      content: { "application/octet-stream": { schema: { type: "string" as const, format: "binary" } } },
    },
    ...errorResponses(400, ...AUTH_ERRORS, 404),
  },
});

export function artifactRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  api.openapi(listArtifacts, async (c) =>
    c.json({ artifacts: await services.listArtifacts(c.req.valid("param").id, c.req.valid("query").stage) }, 200),
  );
  api.openapi(getArtifact, async (c) => {
    const a = await services.getArtifact(c.req.valid("param").id);
    return untyped(
      c.body(new Uint8Array(a.bytes), 200, {
        "content-type": a.contentType,
        // Names are [A-Za-z0-9._-] (checked on upload): nothing to escape.
        "content-disposition": `attachment; filename="${a.name}"`,
        "x-content-type-options": "nosniff",
        "x-dockyard-sha256": a.sha256,
      }),
    );
  });
}
