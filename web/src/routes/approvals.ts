// Decisions on approval stages: `POST /runs/:id/stages/:stage/approve` and `.../reject`,
// with an optional JSON body `{ "comment": "..." }`. The decider is the calling token's
// user; only the stage's listed approvers may decide (403 naming who may), and a stage
// that is not waiting for a decision answers 409.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, WebServices } from "../types";
import { RunViewSchema } from "../run-types";
import { smallBody } from "./input";
import { bodyObject } from "./fields";
import { AUTH_ERRORS, BEARER, documentedBody, errorResponses, jsonBody, jsonResponse } from "./validate";
import { RunRefParams } from "./runs";

/** Longest comment (characters) and body (bytes) accepted. */
export const MAX_COMMENT = 1000;
const MAX_BODY_BYTES = 8 * 1024;
const MAX_STAGE = 64;

export const DecisionBodySchema = bodyObject(
  {
    comment: z
      .string({ error: "comment must be a string" })
      .max(MAX_COMMENT, {
        error: (iss) => `comment is ${(iss.input as string).length} characters; the limit is ${MAX_COMMENT}`,
      })
      .nullish()
      .transform((v) => v ?? ""),
  },
  "only comment is accepted",
);

function decisionRoute(api: OpenAPIHono<AppEnv>, verb: "approve" | "reject") {
  return createRoute({
    method: "post",
    path: `/runs/{id}/stages/{stage}/${verb}`,
    tags: ["approvals"],
    summary: verb === "approve" ? "Approve a waiting approval stage" : "Reject a waiting approval stage",
    security: BEARER,
    middleware: [
      smallBody(MAX_BODY_BYTES),
      jsonBody(DecisionBodySchema, '{ "comment": "..." } (or empty)', true),
    ] as const,
    request: {
      params: RunRefParams.extend({
        stage: z.string().max(MAX_STAGE, {
          error: (iss) =>
            `invalid stage '${String(iss.input).slice(0, 32)}…': a stage name is at most ${MAX_STAGE} characters`,
        }),
      }),
      body: documentedBody(api, "Decision", DecisionBodySchema, false),
    },
    responses: {
      200: jsonResponse(z.object({ run: RunViewSchema }), "The run after the decision"),
      ...errorResponses(400, ...AUTH_ERRORS, 404, 409, 413),
    },
  });
}

/** Mounts the decision routes on the API router (behind its authentication). */
export function approvalRoutes(api: OpenAPIHono<AppEnv>, services: WebServices): void {
  for (const verb of ["approve", "reject"] as const) {
    api.openapi(decisionRoute(api, verb), async (c) => {
      const { id, stage } = c.req.valid("param");
      const { comment } = c.get("body") as z.infer<typeof DecisionBodySchema>;
      const run = await services.decideApproval(id, stage, { approve: verb === "approve", comment }, c.get("caller"));
      return c.json({ run }, 200);
    });
  }
}
