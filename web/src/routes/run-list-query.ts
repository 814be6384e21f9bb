// The query of `GET /api/v1/runs`: its parameters are checked by parseRunListParams (the one
// implementation that gRPC ListRuns and the CLI share), and refused with a 400 that names the
// parameter (`error.field`).
import type { Context } from "hono";
import { parseRunListParams, RUN_LIST_PARAMS } from "../run-list-params";
import type { RunListQuery } from "../types";
import { onlyParams } from "./input";

export { encodeCursor, RUN_LIST_PARAMS } from "../run-list-params";

/** The list's query from the request; 400 naming the first bad parameter. */
export function runListQuery(c: Context): RunListQuery {
  onlyParams(c, RUN_LIST_PARAMS);
  return parseRunListParams(c.req.query());
}
