// Stage artifacts: `GET /runs/:id/artifacts` (`?stage=` for one stage's) lists them;
// `GET /artifacts/:id` answers the bytes with their content type, as an attachment
// (and nosniff), so a stored HTML file or SVG is never rendered as the API's own page.
import type { Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { invalid, nameParam, onlyParams } from "./input";

const MAX_RUN_REF = 100;
const MAX_STAGE = 100;
const MAX_ID = 64;

export function artifactRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/runs/:id/artifacts", async (c) => {
    onlyParams(c, ["stage"]);
    const run = nameParam(c, "id", "run", MAX_RUN_REF);
    const stage = c.req.query("stage") ?? "";
    if (stage.length > MAX_STAGE)
      throw invalid(`invalid stage '${stage.slice(0, 32)}…': a stage is at most ${MAX_STAGE} characters`);
    return c.json({ artifacts: await services.listArtifacts(run, stage || undefined) });
  });
  api.get("/artifacts/:id", async (c) => {
    onlyParams(c, []);
    const a = await services.getArtifact(nameParam(c, "id", "artifact id", MAX_ID));
    return c.body(new Uint8Array(a.bytes), 200, {
      "content-type": a.contentType,
      // Names are [A-Za-z0-9._-] (checked on upload): nothing to escape.
      "content-disposition": `attachment; filename="${a.name}"`,
      "x-content-type-options": "nosniff",
      "x-dockyard-sha256": a.sha256,
    });
  });
}
