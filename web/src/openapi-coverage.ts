// Which registered routes the OpenAPI document leaves out: the check behind "the document covers
// every route" (openapi.test.ts), kept apart from the test so the positive control runs the same code.
import type { OpenApiDocument } from "./ui/api-docs-page";

/**
 * `METHOD /path` of every route of `app` (Hono's `:param` written `{param}`, as OpenAPI does) that `doc` does not
 * describe and `exempt` does not name. Middleware (method ALL) is not a route.
 */
export function undocumentedRoutes(
  app: { routes: readonly { method: string; path: string }[] },
  doc: OpenApiDocument,
  exempt: readonly string[],
): string[] {
  const missing = new Set<string>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const key = `${r.method} ${r.path}`;
    if (exempt.includes(key)) continue;
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    if (!doc.paths[path]?.[r.method.toLowerCase()]) missing.add(key);
  }
  return [...missing].sort();
}
