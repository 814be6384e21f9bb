// The query of `GET /api/v1/runs`: filters, page size and the opaque cursor, each checked by its
// schema and refused with a 400 that names the parameter (`error.field`). The cursor is the key of
// the last run of the page before (its creation time and id), so a page starts strictly after it:
// runs added meanwhile are newer and land on the first page, never shifting later ones.
import { z } from "@hono/zod-openapi";
import { RUN_STATES } from "../states";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "../limits";
import type { RunListQuery, RunView } from "../types";
import { invalid } from "./input";
import { enumQuery, queryObject, textQuery, wholeQuery } from "./fields";

const MAX_PIPELINE_NAME = 200;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function timeQuery(name: string, description: string) {
  const message = (input: unknown) =>
    `invalid ${name} '${String(input).slice(0, 40)}': expected an ISO-8601 time with a zone, e.g. 2026-01-31T12:00:00Z`;
  return z
    .string({ error: (iss) => message(iss.input) })
    .refine((t) => t === "" || (ISO_TIME.test(t) && !Number.isNaN(new Date(t).getTime())), {
      error: (iss) => message(iss.input),
    })
    .transform((t) => (t === "" ? undefined : new Date(t)))
    .optional()
    .openapi({ type: "string", format: "date-time", description });
}

/** A git branch name as pushed (refs/heads/ removed): no control characters, at most 255 characters. */
const branchQuery = z
  .string()
  .refine((t) => t.length <= 255 && !/[\x00-\x1f\x7f]/.test(t), {
    error: (iss) =>
      `invalid branch '${String(iss.input).slice(0, 32)}': expected a branch name of at most 255 characters`,
  })
  .transform((t) => t || undefined)
  .optional()
  .openapi({ type: "string", maxLength: 255, description: "The branch a git push started the run from (exact)." });

const cursorQuery = z
  .string()
  .transform((text, ctx) => {
    if (text === "") return undefined;
    const key = decodeCursor(text);
    if (key === null) {
      ctx.addIssue({
        code: "custom",
        message: `invalid cursor '${text.slice(0, 32)}': pass the nextCursor of the page before, unchanged`,
      });
      return z.NEVER;
    }
    return key;
  })
  .optional()
  .openapi({ type: "string", description: "The `nextCursor` of the page before, unchanged." });

/**
 * Query parameters the runs list takes, in the order they are checked (the first bad one is named). The key order
 * is the order of the checks before schemas: the pipeline and the time window, then the rest.
 */
export const RunListQuerySchema = queryObject({
  pipeline: textQuery("pipeline", "pipeline name", MAX_PIPELINE_NAME, "The pipeline's name (the run's name)."),
  since: timeQuery("since", "Created at or after."),
  until: timeQuery("until", "Created before."),
  limit: wholeQuery("limit", 1, MAX_RUNS_LIMIT, `Runs per page (default ${DEFAULT_RUNS_LIMIT}).`),
  state: enumQuery("state", RUN_STATES, "Only runs in this state."),
  branch: branchQuery,
  cursor: cursorQuery,
});

/** The opaque cursor of the page after `last`: base64url of its creation time and id. */
export function encodeCursor(last: Pick<RunView, "createdAt" | "id">): string {
  return Buffer.from(JSON.stringify([last.createdAt, last.id]), "utf8").toString("base64url");
}

function decodeCursor(text: string): RunListQuery["after"] | null {
  if (text.length > 200 || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(key) || key.length !== 2 || typeof key[0] !== "string" || typeof key[1] !== "string") return null;
  const createdAt = new Date(key[0]);
  if (Number.isNaN(createdAt.getTime()) || key[1].length === 0 || key[1].length > 64) return null;
  return { createdAt, id: key[1] };
}

/** The services' query from the validated parameters; 400 when the time window is empty. */
export function runListQuery(q: z.infer<typeof RunListQuerySchema>, untilText: string | undefined): RunListQuery {
  if (q.since && q.until && q.since.getTime() >= q.until.getTime())
    throw invalid(`invalid until '${untilText}': it must be later than since`, "until");
  return {
    limit: q.limit ?? DEFAULT_RUNS_LIMIT,
    state: q.state,
    pipeline: q.pipeline,
    branch: q.branch,
    since: q.since,
    until: q.until,
    after: q.cursor,
  };
}
