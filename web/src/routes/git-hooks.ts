// Git push webhooks: `POST /hooks/v1/git/:name`, from GitHub (X-Hub-Signature-256: an
// HMAC-SHA256 of the raw body with the repository's secret) or GitLab (X-Gitlab-Token: the
// secret itself). No API token: the signature or token is the credential, checked by the
// handler, so the access table lists the route as `webhook`. The body is read raw, because
// the signature covers its exact bytes.
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv, WebServices } from "../types";

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
];

export function gitHookRoutes(app: Hono<AppEnv>, services: WebServices): void {
  app.post(
    "/hooks/v1/git/:name",
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
    async (c) => {
      const headers: Record<string, string> = {};
      for (const h of HEADERS) {
        const v = c.req.header(h);
        if (v !== undefined) headers[h] = v;
      }
      const result = await services.gitPush({ repo: c.req.param("name"), headers, body: await c.req.text() });
      return c.json(result, result.run ? 201 : 202);
    },
  );
}
