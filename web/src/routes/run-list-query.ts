// The query of `GET /api/v1/runs`. The schema documents the parameters (and refuses one it does
// not list); their values are checked by parseRunListParams (run-list-params.ts), the one
// implementation gRPC ListRuns and the CLI's `dockyard runs` share, which refuses a bad one with a
// 400 naming it (`error.field`).
import { z } from "@hono/zod-openapi";
import { RUN_STATES } from "../states";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "../limits";
import { parseRunListParams } from "../run-list-params";
import type { RunListQuery } from "../types";
import { queryObject } from "./fields";

export { encodeCursor } from "../run-list-params";

const param = () => z.string().optional();

export const RunListQuerySchema = queryObject({
  pipeline: param().openapi({ type: "string", maxLength: 200, description: "The pipeline's name (the run's name)." }),
  since: param().openapi({
    type: "string",
    format: "date-time",
    description: "Created at or after (ISO-8601 with a zone).",
  }),
  until: param().openapi({
    type: "string",
    format: "date-time",
    description: "Created before (ISO-8601 with a zone).",
  }),
  limit: param().openapi({
    type: "integer",
    minimum: 1,
    maximum: MAX_RUNS_LIMIT,
    description: `Runs per page (default ${DEFAULT_RUNS_LIMIT}).`,
  }),
  state: param().openapi({ type: "string", enum: [...RUN_STATES], description: "Only runs in this state." }),
  branch: param().openapi({
    type: "string",
    maxLength: 255,
    description: "The branch a git push started the run from (exact).",
  }),
  cursor: param().openapi({ type: "string", description: "The `nextCursor` of the page before, unchanged." }),
});

/** The services' query from the request's parameters; 400 naming the first bad one. */
export function runListQuery(q: z.infer<typeof RunListQuerySchema>): RunListQuery {
  return parseRunListParams(q);
}
