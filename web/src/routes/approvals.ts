// Decisions on approval stages: `POST /runs/:id/stages/:stage/approve` and `.../reject`,
// with an optional JSON body `{ "comment": "..." }`. The decider is the calling token's
// user; only the stage's listed approvers may decide (403 naming who may), and a stage
// that is not waiting for a decision answers 409.
import type { Context, Hono } from "hono";
import type { AppEnv, WebServices } from "../types";
import { invalid, smallBody } from "./input";

/** Longest comment (characters) and body (bytes) accepted. */
export const MAX_COMMENT = 1000;
const MAX_BODY_BYTES = 8 * 1024;

async function commentOf(c: Context): Promise<string> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES)
    throw invalid(`request body exceeds ${MAX_BODY_BYTES} bytes: send { "comment": "..." } only`);
  if (text.trim() === "") return "";
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('request body must be JSON: { "comment": "..." } (or empty)');
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw invalid('request body must be a JSON object: { "comment": "..." }');
  const extra = Object.keys(body).filter((k) => k !== "comment");
  if (extra.length > 0)
    throw invalid(`unknown field '${extra[0]!.slice(0, 32)}': only comment is accepted`, extra[0]!.slice(0, 32));
  const comment = (body as { comment?: unknown }).comment ?? "";
  if (typeof comment !== "string") throw invalid("comment must be a string", "comment");
  if (comment.length > MAX_COMMENT)
    throw invalid(`comment is ${comment.length} characters; the limit is ${MAX_COMMENT}`, "comment");
  return comment;
}

async function decide(services: WebServices, c: Context<AppEnv>, approve: boolean): Promise<Response> {
  const stage = c.req.param("stage") ?? "";
  if (stage.length > 64)
    throw invalid(`invalid stage '${stage.slice(0, 32)}…': a stage name is at most 64 characters`, "stage");
  const run = await services.decideApproval(
    c.req.param("id") ?? "",
    stage,
    { approve, comment: await commentOf(c) },
    c.get("caller"),
  );
  return c.json({ run });
}

/** Mounts the decision routes on the API router (behind its authentication). */
export function approvalRoutes(api: Hono<AppEnv>, services: WebServices): void {
  api.post("/runs/:id/stages/:stage/approve", smallBody(MAX_BODY_BYTES), (c) => decide(services, c, true));
  api.post("/runs/:id/stages/:stage/reject", smallBody(MAX_BODY_BYTES), (c) => decide(services, c, false));
}
