// The query of `GET /api/v1/runs`: filters, page size and the opaque cursor, each checked and
// refused with a 400 that names the parameter (`error.field`). The cursor is the key of the
// last run of the page before (its creation time and id), so a page starts strictly after it:
// runs added meanwhile are newer and land on the first page, never shifting later ones.
import type { Context } from "hono";
import { RUN_STATES } from "../states";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "../limits";
import type { RunListQuery, RunView } from "../types";
import { invalid, onlyParams } from "./input";

/** Query parameters the runs list takes. */
export const RUN_LIST_PARAMS = ["limit", "cursor", "state", "pipeline", "branch", "since", "until"] as const;
const MAX_PIPELINE_NAME = 200;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function limitParam(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_RUNS_LIMIT;
  const n = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_RUNS_LIMIT)) {
    throw invalid(`invalid limit '${text.slice(0, 32)}': expected a whole number from 1 to ${MAX_RUNS_LIMIT}`, "limit");
  }
  return n;
}

function stateParam(text: string | undefined): string | undefined {
  if (text === undefined || text === "") return undefined;
  if (!(RUN_STATES as readonly string[]).includes(text)) {
    throw invalid(`invalid state '${text.slice(0, 32)}': expected one of ${RUN_STATES.join(", ")}`, "state");
  }
  return text;
}

/** A git branch name as pushed (refs/heads/ removed): no control characters, at most 255 characters. */
function branchParam(text: string | undefined): string | undefined {
  if (text === undefined || text === "") return undefined;
  if (text.length > 255 || /[\x00-\x1f\x7f]/.test(text)) {
    throw invalid(`invalid branch '${text.slice(0, 32)}': expected a branch name of at most 255 characters`, "branch");
  }
  return text;
}

function timeParam(text: string | undefined, name: string): Date | undefined {
  if (text === undefined || text === "") return undefined;
  const t = ISO_TIME.test(text) ? new Date(text) : null;
  if (!t || Number.isNaN(t.getTime())) {
    throw invalid(
      `invalid ${name} '${text.slice(0, 40)}': expected an ISO-8601 time with a zone, e.g. 2026-01-31T12:00:00Z`,
      name,
    );
  }
  return t;
}

/** The opaque cursor of the page after `last`: base64url of its creation time and id. */
export function encodeCursor(last: Pick<RunView, "createdAt" | "id">): string {
  return Buffer.from(JSON.stringify([last.createdAt, last.id]), "utf8").toString("base64url");
}

function cursorParam(text: string | undefined): RunListQuery["after"] {
  if (text === undefined || text === "") return undefined;
  const bad = () =>
    invalid(`invalid cursor '${text.slice(0, 32)}': pass the nextCursor of the page before, unchanged`, "cursor");
  if (text.length > 200 || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!Array.isArray(key) || key.length !== 2 || typeof key[0] !== "string" || typeof key[1] !== "string") throw bad();
  const createdAt = new Date(key[0]);
  if (Number.isNaN(createdAt.getTime()) || key[1].length === 0 || key[1].length > 64) throw bad();
  return { createdAt, id: key[1] };
}

/** The list's query from the request; 400 naming the first bad parameter. */
export function runListQuery(c: Context): RunListQuery {
  onlyParams(c, RUN_LIST_PARAMS);
  const pipeline = c.req.query("pipeline") || undefined;
  if (pipeline !== undefined && pipeline.length > MAX_PIPELINE_NAME) {
    throw invalid(`invalid pipeline: a pipeline name is at most ${MAX_PIPELINE_NAME} characters`, "pipeline");
  }
  const since = timeParam(c.req.query("since"), "since");
  const until = timeParam(c.req.query("until"), "until");
  if (since && until && since.getTime() >= until.getTime()) {
    throw invalid(`invalid until '${c.req.query("until")}': it must be later than since`, "until");
  }
  return {
    limit: limitParam(c.req.query("limit")),
    state: stateParam(c.req.query("state")),
    pipeline,
    branch: branchParam(c.req.query("branch")),
    since,
    until,
    after: cursorParam(c.req.query("cursor")),
  };
}
