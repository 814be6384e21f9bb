// Plain-text logs of one stage: `GET /runs/:id/stages/:stage/logs` and the same as
// `GET /runs/:id/logs?stage=NAME`. Every query parameter is checked (400 naming it) and
// a page is bounded; headers say which attempt it is and where the next page starts.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv, WebServices } from "../types";
import { invalid } from "./input";
import { queryObject, wholeQuery } from "./fields";
import { AUTH_ERRORS, BEARER, errorResponses, untyped } from "./validate";
import { RunRefParams } from "./runs";

/** Default and largest page (`limit`, bytes). A page holds whole chunks; one chunk is at most 64 KiB. */
export const DEFAULT_LOG_PAGE_BYTES = 1024 * 1024;
export const MAX_LOG_PAGE_BYTES = 8 * 1024 * 1024;
/** Largest `attempt` accepted (a stage retries at most 10 times). */
const MAX_ATTEMPT = 1000;
const MAX_STAGE = 64;

const stageName = z.string().max(MAX_STAGE, {
  error: (iss) => `invalid stage '${String(iss.input).slice(0, 32)}…': a stage name is at most ${MAX_STAGE} characters`,
});
const pageQuery = {
  attempt: wholeQuery("attempt", 1, MAX_ATTEMPT, "The attempt (default: the latest)."),
  from: wholeQuery("from", 0, Number.MAX_SAFE_INTEGER, "Where the page starts: the `x-dockyard-next-from` before."),
  limit: wholeQuery("limit", 1, MAX_LOG_PAGE_BYTES, `About this many bytes (default ${DEFAULT_LOG_PAGE_BYTES}).`),
};
const header = (description: string) => ({ schema: { type: "string" as const }, description });
const logPage = {
  200: {
    description: "The page: the attempt's bytes as stored (secrets masked), ANSI colours kept",
    headers: {
      "x-dockyard-run-id": header("The run's full id."),
      "x-dockyard-attempt": header("The attempt read (absent while the stage has made none)."),
      "x-dockyard-attempts": header("How many attempts the stage made."),
      "x-dockyard-next-from": header("The `from` of the next page."),
      "x-dockyard-complete": header("`true` when the attempt has ended and this page holds its last bytes."),
    },
    content: { "text/plain; charset=utf-8": { schema: { type: "string" as const } } },
  },
  ...errorResponses(400, ...AUTH_ERRORS, 404),
};

const stageLogsRoute = createRoute({
  method: "get",
  path: "/runs/{id}/stages/{stage}/logs",
  tags: ["logs"],
  summary: "A page of one stage attempt's output, as text",
  security: BEARER,
  request: { params: RunRefParams.extend({ stage: stageName }), query: queryObject(pageQuery) },
  responses: logPage,
});

const runLogsRoute = createRoute({
  method: "get",
  path: "/runs/{id}/logs",
  tags: ["logs"],
  summary: "The same as /runs/{id}/stages/{stage}/logs, the stage named by `?stage=`",
  security: BEARER,
  request: {
    params: RunRefParams,
    query: queryObject({
      ...pageQuery,
      stage: stageName.optional().openapi({ description: "The stage (required)." }),
    }),
  },
  responses: logPage,
});

type PageQuery = { attempt?: number; from?: number; limit?: number };

async function stageLogs(
  services: WebServices,
  c: Context,
  runRef: string,
  stage: string,
  q: PageQuery,
): Promise<never> {
  const log = await services.stageLog(runRef, stage, {
    attempt: q.attempt,
    from: q.from ?? 0,
    limitBytes: q.limit ?? DEFAULT_LOG_PAGE_BYTES,
  });
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "x-content-type-options": "nosniff",
    "x-dockyard-run-id": log.runId,
    "x-dockyard-attempts": String(log.attempts),
    "x-dockyard-next-from": String(log.nextFrom),
    "x-dockyard-complete": String(log.complete),
  };
  if (log.attempt !== null) headers["x-dockyard-attempt"] = String(log.attempt);
  return untyped(c.body(log.data as Uint8Array<ArrayBuffer>, 200, headers));
}

/** Mounts the log routes on the API router (behind its authentication). */
export function logRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  api.openapi(stageLogsRoute, (c) => {
    const { id, stage } = c.req.valid("param");
    return stageLogs(services, c, id, stage, c.req.valid("query"));
  });
  api.openapi(runLogsRoute, (c) => {
    const { stage, ...page } = c.req.valid("query");
    if (stage === undefined || stage === "")
      throw invalid(
        "stage is required: GET /api/v1/runs/:id/stages/:stage/logs or /api/v1/runs/:id/logs?stage=NAME",
        "stage",
      );
    return stageLogs(services, c, c.req.valid("param").id, stage, page);
  });
}
