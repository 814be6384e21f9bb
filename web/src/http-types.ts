// What the HTTP edge itself holds: the caller, the access table's interface, Hono's context
// variables and the error body every refusal answers.
import { z } from "@hono/zod-openapi";

/** The user an API token speaks for; handlers read it as `c.get("caller")`. */
export interface WebCaller {
  userId: string;
  /** The user's name. */
  user: string;
  roles: string[];
}

/** What each route needs, from the server's one access table (the app holds no roles of its own). */
export interface RouteAccess {
  /**
   * By `METHOD /path` as registered (e.g. `GET /api/v1/runs/:id`): "public", "webhook" (its handler checks a
   * signature), a role, or undefined (refused: fail closed).
   */
  routeAccess(route: string): string | undefined;
  /** Whether a user holding `roles` may use a route that needs `role`. */
  allows(roles: readonly string[], role: string): boolean;
}

/** Hono's typing of the app's context variables. */
export interface AppEnv {
  Variables: {
    caller: WebCaller;
    /** The session's CSRF token when the request came with a UI session cookie; null with a bearer token. */
    csrf: string | null;
    /** A JSON body as its route's schema parsed it (routes/validate.ts `jsonBody`). */
    body: unknown;
  };
}

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe(
          "invalid | unauthenticated | permission_denied | not_found | conflict | too_large | unavailable | internal",
        ),
      message: z.string(),
      field: z
        .string()
        .optional()
        .describe("The query parameter, path parameter or body field a 400 is about, when it is about one."),
      problems: z.array(z.string()).optional().describe("Every problem found, when there were several."),
    }),
  })
  .openapi("Error");
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
