// Validation against the routes' zod schemas, and the pieces of their OpenAPI definitions they
// all share. Query, path and header input is validated by @hono/zod-openapi with `validationHook`
// (OpenAPIHono's defaultHook); a JSON body by `jsonBody`, which reads the raw text itself so that
// a body is JSON whatever its Content-Type says (as `curl -d` sends it) and an empty or malformed
// one is refused with the same messages as before. Every refusal is a 400 `invalid` naming the field.
import type { MiddlewareHandler } from "hono";
import { z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../types";
import { ErrorBodySchema } from "../http-types";
import { invalid } from "./input";

type Issue = z.core.$ZodIssue;

function renderPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `${out ? "." : ""}${String(p).slice(0, 64)}`;
  return out;
}

/** The 400 for a failed parse: an unknown key first (as before: named before the values), else the first issue. */
export function issueError(issues: readonly Issue[]): Error & { code: string; field?: string } {
  const unknown = issues.find((i) => i.code === "unrecognized_keys");
  const issue = unknown ?? issues[0];
  if (!issue) return invalid("invalid request");
  const field =
    issue.code === "unrecognized_keys"
      ? String(issue.keys[0] ?? "").slice(0, 32)
      : issue.path.length > 0
        ? String(issue.path[0]).slice(0, 32)
        : undefined;
  return invalid(issue.message.replaceAll("{path}", renderPath(issue.path)), field || undefined);
}

/** OpenAPIHono's defaultHook: a failed validation is thrown, so app.onError answers it like any other 400. */
export function validationHook(result: { success: boolean; error?: { issues: readonly Issue[] } }): void {
  if (!result.success) throw issueError(result.error?.issues ?? []);
}

/**
 * Parses the body as JSON and checks it against `schema` before the handler runs (read it as `c.get("body")`). An
 * empty body is `{}` when `emptyOk`; `shape` is the body's example for messages.
 */
export function jsonBody(schema: z.ZodType, shape: string, emptyOk = false): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const text = await c.req.text();
    let body: unknown = {};
    if (text.trim() === "") {
      if (!emptyOk) throw invalid(`request body is required: ${shape}`);
    } else {
      try {
        body = JSON.parse(text);
      } catch {
        throw invalid(`request body must be JSON: ${shape}`);
      }
      if (body === null || typeof body !== "object" || Array.isArray(body))
        throw invalid(`request body must be a JSON object: ${shape}`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw issueError(parsed.error.issues);
    c.set("body", parsed.data);
    await next();
  };
}

/**
 * The OpenAPI `requestBody` of a route whose JSON body `jsonBody` checks: the schema is registered as a component
 * and referenced, rather than given as a zod schema, which would make @hono/zod-openapi validate it too (and refuse
 * a body sent without `Content-Type: application/json` with 415, which the API has always accepted).
 */
export function documentedBody(api: OpenAPIHono<AppEnv>, name: string, schema: z.ZodType, required: boolean) {
  api.openAPIRegistry.register(name, schema);
  return {
    required,
    content: { "application/json": { schema: { $ref: `#/components/schemas/${name}` } } },
  };
}

/** A JSON response of `schema`. */
export function jsonResponse(schema: z.ZodType, description: string) {
  return { description, content: { "application/json": { schema } } };
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid input (`invalid`); `field` names the parameter or body field",
  401: "No or an unknown token (`unauthenticated`)",
  403: "The caller's role does not allow it (`permission_denied`)",
  404: "Not found (`not_found`)",
  409: "Conflicts with the current state (`conflict`)",
  413: "Request body over its limit (`too_large`)",
  429: "Over the token's rate limit; see Retry-After",
  503: "A dependency or setting is missing (`unavailable`)",
};

/** Error responses (the `{error: {code, message, field?}}` body) for `statuses`. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: ERROR_DESCRIPTIONS[s] ?? "Error", content: { "application/json": { schema: ErrorBodySchema } } },
    ]),
  );
}

/** What every token route may answer besides its own: no token, no role, over the rate limit. */
export const AUTH_ERRORS = [401, 403, 429] as const;

/** The bearer token every /api/v1 route (bar the webhook receivers) takes. */
export const BEARER = [{ bearer: [] }];

/**
 * A response whose body the typed handlers cannot express (bytes, a stream, another route's text); its content
 * type is documented on the route. Typed as `never` so it satisfies any route's declared responses.
 */
export function untyped(res: Response): never {
  return res as never;
}
