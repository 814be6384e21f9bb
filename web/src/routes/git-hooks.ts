// Git push webhooks: `POST /hooks/v1/git/:name`, from GitHub (X-Hub-Signature-256: an
// HMAC-SHA256 of the raw body with the repository's secret) or GitLab (X-Gitlab-Token: the
// secret itself). No API token: the signature or token is the credential, checked by the
// handler, so the access table lists the route as `webhook`. The body is read raw, because
// the signature covers its exact bytes.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv, WebServices } from "../types";
import { GitPushViewSchema } from "../run-types";
import { errorResponses, jsonResponse } from "./validate";

/** Largest push event accepted (bytes): GitHub sends up to 25 MB, but a push of a few hundred commits fits well under this. */
export const MAX_GIT_HOOK_BODY_BYTES = 1024 * 1024;
/** The headers the handler reads; others are not passed on. */
const HEADERS = [
  "content-type",
  "x-github-event",
  "x-github-delivery",
  "x-hub-signature-256",
  "x-gitlab-event",
  "x-gitlab-token",
  "x-gitlab-event-uuid",
] as const;

const optional = (description: string) => z.string().optional().openapi({ description });

const gitPush = createRoute({
  method: "post",
  path: "/hooks/v1/git/{name}",
  tags: ["webhooks"],
  summary: "A GitHub or GitLab push event: starts the repository's pipeline at the pushed commit",
  middleware: [
    bodyLimit({
      maxSize: MAX_GIT_HOOK_BODY_BYTES,
      onError: (c) =>
        c.json(
          {
            error: { code: "too_large", message: `request body exceeds the limit of ${MAX_GIT_HOOK_BODY_BYTES} bytes` },
          },
          413,
        ),
    }),
  ] as const,
  request: {
    params: z.object({ name: z.string().openapi({ description: "The registered repository's name." }) }),
    // Documented only (optional): the server checks them with the signature and names what is missing.
    headers: z.object({
      "x-github-event": optional("GitHub: push (ping and others are answered as ignored)."),
      "x-github-delivery": optional("GitHub: the delivery id (a replay is refused)."),
      "x-hub-signature-256": optional("GitHub: sha256=<hex HMAC-SHA256 of the body with the secret>."),
      "x-gitlab-event": optional("GitLab: Push Hook."),
      "x-gitlab-token": optional("GitLab: the secret itself."),
      "x-gitlab-event-uuid": optional("GitLab: the delivery id (a replay is refused)."),
    }),
    body: {
      required: true,
      description: "The push event as GitHub or GitLab sends it; verified byte for byte.",
      content: { "application/json": { schema: { type: "object" as const } } },
    },
  },
  responses: {
    201: jsonResponse(GitPushViewSchema, "The push started a run"),
    202: jsonResponse(GitPushViewSchema, "The push started nothing (`ignored` says why)"),
    ...errorResponses(400, 401, 409, 413),
  },
});

export function gitHookRoutes(app: OpenAPIHono<AppEnv>, services: WebServices): void {
  app.openapi(gitPush, async (c) => {
    const headers: Record<string, string> = {};
    for (const h of HEADERS) {
      const v = c.req.header(h);
      if (v !== undefined) headers[h] = v;
    }
    const result = await services.gitPush({ repo: c.req.param("name"), headers, body: await c.req.text() });
    return result.run ? c.json(result, 201) : c.json(result, 202);
  });
}
