// Services: `GET /services` (all, or `?name=`), `GET /services/:name`, `GET /services/:name/history`
// and `POST /services/:name/rollback` with an optional JSON body `{ "revision": N, "reason": "..." }`
// (the alert loop's entry point: while an update holds the service it switches back at once,
// otherwise a rollback run starts; 202 with which of the two and its run).
import type { Context, Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { invalid, nameParam, onlyParams, smallBody } from "./input";

const MAX_BODY_BYTES = 8 * 1024;
const MAX_REASON = 500;
const MAX_NAME = 63;

async function rollbackBody(c: Context): Promise<{ revision?: number; reason: string }> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES)
    throw invalid(`request body exceeds ${MAX_BODY_BYTES} bytes: send { "revision": N, "reason": "..." } only`);
  if (text.trim() === "") return { reason: "" };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('request body must be JSON: { "revision": N, "reason": "..." } (or empty)');
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw invalid('request body must be a JSON object: { "revision": N, "reason": "..." }');
  const extra = Object.keys(body).filter((k) => k !== "revision" && k !== "reason");
  if (extra.length > 0)
    throw invalid(
      `unknown field '${extra[0]!.slice(0, 32)}': only revision and reason are accepted`,
      extra[0]!.slice(0, 32),
    );
  const { revision, reason = "" } = body as { revision?: unknown; reason?: unknown };
  if (typeof reason !== "string") throw invalid("reason must be a string", "reason");
  if (reason.length > MAX_REASON)
    throw invalid(`reason is ${reason.length} characters; the limit is ${MAX_REASON}`, "reason");
  if (revision !== undefined && revision !== null && !(Number.isInteger(revision) && (revision as number) >= 1))
    throw invalid("revision must be a whole number from 1 (or absent: the previous revision)", "revision");
  return { ...(typeof revision === "number" && { revision }), reason };
}

/** Mounts the service routes on the API router (behind its authentication). */
export function serviceRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.get("/services", async (c) => {
    onlyParams(c, []);
    return c.json({ services: await services.listServices() });
  });
  api.get("/services/:name", async (c) => {
    const [service] = await services.listServices(nameParam(c, "name", "service", MAX_NAME));
    return c.json({ service });
  });
  api.get("/services/:name/history", async (c) =>
    c.json({ history: await services.serviceHistory(nameParam(c, "name", "service", MAX_NAME)) }),
  );
  api.post("/services/:name/rollback", smallBody(MAX_BODY_BYTES), async (c) => {
    const name = nameParam(c, "name", "service", MAX_NAME);
    return c.json({ rollback: await services.rollbackService(name, await rollbackBody(c), c.get("caller")) }, 202);
  });
}
