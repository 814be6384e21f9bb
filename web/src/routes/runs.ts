// Runs: list (filters and a cursor), submit, read, cancel, re-run.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, RunPageView, WebServices } from "../types";
import { RunPageViewSchema, RunViewSchema } from "../run-types";
import { RunListQuerySchema, encodeCursor, runListQuery } from "./run-list-query";
import { smallBody } from "./input";
import { queryObject } from "./fields";
import { AUTH_ERRORS, BEARER, errorResponses, jsonResponse } from "./validate";

/** A run by its id, an id prefix or PIPELINE#NUMBER. */
export const RunRefParams = z.object({
  id: z.string().openapi({ description: "A run id, a unique id prefix, or PIPELINE#NUMBER." }),
});
const RunAnswer = z.object({ run: RunViewSchema });

const listRuns = createRoute({
  method: "get",
  path: "/runs",
  tags: ["runs"],
  summary: "List runs, newest first, a page at a time",
  security: BEARER,
  request: { query: RunListQuerySchema },
  responses: { 200: jsonResponse(RunPageViewSchema, "A page of runs"), ...errorResponses(400, ...AUTH_ERRORS) },
});

function submitRun(maxBodyBytes: number) {
  return createRoute({
    method: "post",
    path: "/runs",
    tags: ["runs"],
    summary: "Submit a pipeline file and start a run",
    security: BEARER,
    middleware: [smallBody(maxBodyBytes)] as const,
    request: {
      // Unknown parameters are ignored here, as they always were for this route.
      query: z.object({
        source: z.string().optional().openapi({ description: "Where it came from (default `http:dockyard.yml`)." }),
        name: z.string().optional().openapi({ description: "The run's name when the file has no `name:`." }),
      }),
      body: {
        required: true,
        description: "The pipeline file (dockyard.yml), as YAML.",
        content: { "application/yaml": { schema: { type: "string" } } },
      },
    },
    responses: {
      201: jsonResponse(RunAnswer, "The run started"),
      ...errorResponses(400, ...AUTH_ERRORS, 413),
    },
  });
}

const getRun = createRoute({
  method: "get",
  path: "/runs/{id}",
  tags: ["runs"],
  summary: "A run with its stages, attempts and outputs",
  security: BEARER,
  request: { params: RunRefParams },
  responses: { 200: jsonResponse(RunAnswer, "The run"), ...errorResponses(...AUTH_ERRORS, 404) },
});

const cancelRun = createRoute({
  method: "post",
  path: "/runs/{id}/cancel",
  tags: ["runs"],
  summary: "Cancel a run",
  security: BEARER,
  middleware: [smallBody(1024)] as const,
  request: { params: RunRefParams },
  responses: {
    200: jsonResponse(RunAnswer, "The run, canceling"),
    ...errorResponses(...AUTH_ERRORS, 404, 409, 413),
  },
});

const FROM_MESSAGE = (from: unknown) =>
  `invalid from '${String(from).slice(0, 32)}': expected failed (or no from: the whole run)`;

const rerunRun = createRoute({
  method: "post",
  path: "/runs/{id}/rerun",
  tags: ["runs"],
  summary: "Re-run a finished run, whole or from its failed stages",
  security: BEARER,
  middleware: [smallBody(1024)] as const,
  request: {
    params: RunRefParams,
    query: queryObject({
      from: z
        .literal("failed", { error: (iss) => FROM_MESSAGE(iss.input) })
        .optional()
        .openapi({
          description: "`failed`: only the stages that did not succeed, and their dependents, run again.",
        }),
    }),
  },
  responses: {
    201: jsonResponse(RunAnswer, "The new run"),
    ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
  },
});

export function runRoutes(api: OpenAPIHono<AppEnv>, services: WebServices, opts: { maxBodyBytes: number }): void {
  api.openapi(listRuns, async (c) => {
    const query = runListQuery(c.req.valid("query"));
    const { runs, more } = await services.listRuns(query);
    const last = runs.at(-1);
    return c.json({ runs, nextCursor: more && last ? encodeCursor(last) : null } satisfies RunPageView, 200);
  });
  api.openapi(submitRun(opts.maxBodyBytes), async (c) => {
    const yaml = new Uint8Array(await c.req.arrayBuffer());
    const { source = "http:dockyard.yml", name } = c.req.valid("query");
    // The name when the file has none (like the CLI's directory name); checked by the parser.
    return c.json({ run: await services.submitRun(yaml, source, name || undefined, c.get("caller")) }, 201);
  });
  api.openapi(getRun, async (c) => c.json({ run: await services.getRun(c.req.valid("param").id) }, 200));
  api.openapi(cancelRun, async (c) =>
    c.json({ run: await services.cancelRun(c.req.valid("param").id, c.get("caller")) }, 200),
  );
  api.openapi(rerunRun, async (c) => {
    const { from } = c.req.valid("query");
    const run = await services.rerunRun(c.req.valid("param").id, { failedOnly: from === "failed" }, c.get("caller"));
    return c.json({ run }, 201);
  });
}
