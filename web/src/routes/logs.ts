// Plain-text logs of one stage: `GET /runs/:id/stages/:stage/logs` and the same as
// `GET /runs/:id/logs?stage=NAME`. Every query parameter is checked (400 naming it) and
// a page is bounded; headers say which attempt it is and where the next page starts.
import type { Context, Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { invalid, wholeParam } from "./input";

/** Default and largest page (`limit`, bytes). A page holds whole chunks; one chunk is at most 64 KiB. */
export const DEFAULT_LOG_PAGE_BYTES = 1024 * 1024;
export const MAX_LOG_PAGE_BYTES = 8 * 1024 * 1024;
/** Largest `attempt` accepted (a stage retries at most 10 times). */
const MAX_ATTEMPT = 1000;
const PARAMS = new Set(["stage", "attempt", "from", "limit"]);

async function stageLogs(services: WebServices, c: Context, stage: string | undefined): Promise<Response> {
  for (const key of Object.keys(c.req.query())) {
    if (!PARAMS.has(key))
      throw invalid(
        `unknown query parameter '${key.slice(0, 32)}': expected attempt, from, limit${stage === undefined ? " and stage" : ""}`,
      );
  }
  if (stage === undefined || stage === "")
    throw invalid("stage is required: GET /api/v1/runs/:id/stages/:stage/logs or /api/v1/runs/:id/logs?stage=NAME");
  if (stage.length > 64) throw invalid(`invalid stage '${stage.slice(0, 32)}…': a stage name is at most 64 characters`);
  const log = await services.stageLog(c.req.param("id") ?? "", stage, {
    attempt: wholeParam(c, "attempt", 1, MAX_ATTEMPT),
    from: wholeParam(c, "from", 0, Number.MAX_SAFE_INTEGER) ?? 0,
    limitBytes: wholeParam(c, "limit", 1, MAX_LOG_PAGE_BYTES) ?? DEFAULT_LOG_PAGE_BYTES,
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
  return c.body(log.data as Uint8Array<ArrayBuffer>, 200, headers);
}

/** Mounts the log routes on the API router (behind its authentication). */
export function logRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/runs/:id/stages/:stage/logs", (c) => stageLogs(services, c, c.req.param("stage")));
  api.get("/runs/:id/logs", (c) => stageLogs(services, c, c.req.query("stage")));
}
