// Runs: list (filters and a cursor), submit, read, cancel, re-run.
import type { Hono } from "hono";
import type { AppEnv, RunPageView, WebServices } from "../types";
import { encodeCursor, runListQuery } from "./run-list-query";
import { invalid, onlyParams, smallBody } from "./input";

export function runRoutes(api: Hono<AppEnv>, services: WebServices, opts: { maxBodyBytes: number }): void {
  api.get("/runs", async (c) => {
    const query = runListQuery(c);
    const { runs, more } = await services.listRuns(query);
    const last = runs.at(-1);
    return c.json({ runs, nextCursor: more && last ? encodeCursor(last) : null } satisfies RunPageView);
  });
  api.post("/runs", smallBody(opts.maxBodyBytes), async (c) => {
    const yaml = new Uint8Array(await c.req.arrayBuffer());
    const source = c.req.query("source") ?? "http:dockyard.yml";
    // The name when the file has none (like the CLI's directory name); checked by the parser.
    return c.json(
      { run: await services.submitRun(yaml, source, c.req.query("name") || undefined, c.get("caller")) },
      201,
    );
  });
  api.get("/runs/:id", async (c) => c.json({ run: await services.getRun(c.req.param("id")) }));
  api.post("/runs/:id/cancel", smallBody(1024), async (c) =>
    c.json({ run: await services.cancelRun(c.req.param("id"), c.get("caller")) }),
  );
  // `?from=failed`: only the stages that did not succeed, and their dependents, run again.
  api.post("/runs/:id/rerun", smallBody(1024), async (c) => {
    onlyParams(c, ["from"]);
    const from = c.req.query("from");
    if (from !== undefined && from !== "failed")
      throw invalid(`invalid from '${from.slice(0, 32)}': expected failed (or no from: the whole run)`, "from");
    const run = await services.rerunRun(c.req.param("id"), { failedOnly: from === "failed" }, c.get("caller"));
    return c.json({ run }, 201);
  });
}
