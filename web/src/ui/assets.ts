// The UI's static files, served by the app (no CDN): the stylesheet, the run page's script,
// and ansi_up (the ANSI-to-HTML converter the script imports), read once at startup.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Hono } from "hono";
import type { AppEnv } from "../types";

const here = (name: string) => new URL(`./assets/${name}`, import.meta.url);
const ASSETS: Record<string, { type: string; body: string }> = {
  "app.css": { type: "text/css; charset=utf-8", body: readFileSync(here("app.css"), "utf8") },
  "run.js": { type: "text/javascript; charset=utf-8", body: readFileSync(here("run.js"), "utf8") },
  "runs.js": { type: "text/javascript; charset=utf-8", body: readFileSync(here("runs.js"), "utf8") },
  "ansi_up.js": {
    type: "text/javascript; charset=utf-8",
    body: readFileSync(createRequire(import.meta.url).resolve("ansi_up"), "utf8").replace(
      /\/\/# sourceMappingURL=.*$/m,
      "",
    ),
  },
};

export function assetRoutes(app: Hono<AppEnv>): void {
  app.get("/ui/assets/:name", (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset)
      return c.json({ error: { code: "not_found", message: `no asset ${c.req.param("name").slice(0, 64)}` } }, 404);
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=300",
      "x-content-type-options": "nosniff",
    });
  });
}
