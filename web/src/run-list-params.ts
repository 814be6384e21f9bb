// The runs list's filters, page size and opaque cursor, checked in ONE place for every edge that
// lists runs: `GET /api/v1/runs` (routes/run-list-query.ts), gRPC ListRuns (the control plane's
// run handlers) and the CLI's `dockyard runs` flags. Each refusal is an `invalid` error naming the
// parameter (`field`). The cursor is the key of the last run of the page before (its creation time
// and id), so a page starts strictly after it: runs added meanwhile are newer and land on the first
// page, never shifting later ones.
import { RUN_STATES } from "./states";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "./limits";
import type { RunListQuery } from "./types";

/** Parameters the runs list takes (query parameters over HTTP, ListRunsRequest fields over gRPC). */
export const RUN_LIST_PARAMS = ["limit", "cursor", "state", "pipeline", "branch", "since", "until"] as const;
export type RunListParam = (typeof RUN_LIST_PARAMS)[number];
/** The raw text of each parameter; absent or "" = not given. */
export type RunListParams = Partial<Record<RunListParam, string>>;

const MAX_PIPELINE_NAME = 200;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A refused parameter: `code` "invalid" (HTTP 400, gRPC INVALID_ARGUMENT) and the parameter as `field`. */
export interface RunListParamError extends Error {
  code: "invalid";
  field: RunListParam;
}

function invalidParam(message: string, field: RunListParam): RunListParamError {
  return Object.assign(new Error(message), { code: "invalid" as const, field });
}

/** True for an error parseRunListParams threw. */
export function isRunListParamError(err: unknown): err is RunListParamError {
  return (
    err instanceof Error &&
    (err as Partial<RunListParamError>).code === "invalid" &&
    RUN_LIST_PARAMS.includes((err as RunListParamError).field)
  );
}

function limitParam(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_RUNS_LIMIT;
  const n = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_RUNS_LIMIT)) {
    throw invalidParam(
      `invalid limit '${text.slice(0, 32)}': expected a whole number from 1 to ${MAX_RUNS_LIMIT}`,
      "limit",
    );
  }
  return n;
}

function stateParam(text: string | undefined): string | undefined {
  if (text === undefined || text === "") return undefined;
  if (!(RUN_STATES as readonly string[]).includes(text)) {
    throw invalidParam(`invalid state '${text.slice(0, 32)}': expected one of ${RUN_STATES.join(", ")}`, "state");
  }
  return text;
}

function pipelineParam(text: string | undefined): string | undefined {
  if (text === undefined || text === "") return undefined;
  if (text.length > MAX_PIPELINE_NAME || /[\x00-\x1f\x7f]/.test(text)) {
    throw invalidParam(
      `invalid pipeline '${text.slice(0, 32)}': a pipeline name of at most ${MAX_PIPELINE_NAME} characters`,
      "pipeline",
    );
  }
  return text;
}

/** A git branch name as pushed (refs/heads/ removed): no control characters, at most 255 characters. */
function branchParam(text: string | undefined): string | undefined {
  if (text === undefined || text === "") return undefined;
  if (text.length > 255 || /[\x00-\x1f\x7f]/.test(text)) {
    throw invalidParam(
      `invalid branch '${text.slice(0, 32)}': expected a branch name of at most 255 characters`,
      "branch",
    );
  }
  return text;
}

function timeParam(text: string | undefined, name: "since" | "until"): Date | undefined {
  if (text === undefined || text === "") return undefined;
  const t = ISO_TIME.test(text) ? new Date(text) : null;
  if (!t || Number.isNaN(t.getTime())) {
    throw invalidParam(
      `invalid ${name} '${text.slice(0, 40)}': expected an ISO-8601 time with a zone, e.g. 2026-01-31T12:00:00Z`,
      name,
    );
  }
  return t;
}

/** The opaque cursor of the page after `last`: base64url of its creation time (ISO-8601) and id. */
export function encodeCursor(last: { createdAt: Date | string; id: string }): string {
  const createdAt = typeof last.createdAt === "string" ? last.createdAt : last.createdAt.toISOString();
  return Buffer.from(JSON.stringify([createdAt, last.id]), "utf8").toString("base64url");
}

function cursorParam(text: string | undefined): RunListQuery["after"] {
  if (text === undefined || text === "") return undefined;
  const bad = () =>
    invalidParam(`invalid cursor '${text.slice(0, 32)}': pass the nextCursor of the page before, unchanged`, "cursor");
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

/** The list's query from its parameters' text; throws a RunListParamError naming the first bad one. */
export function parseRunListParams(p: RunListParams): RunListQuery {
  const pipeline = pipelineParam(p.pipeline);
  const since = timeParam(p.since, "since");
  const until = timeParam(p.until, "until");
  if (since && until && since.getTime() >= until.getTime()) {
    throw invalidParam(`invalid until '${p.until!.slice(0, 40)}': it must be later than since`, "until");
  }
  return {
    limit: limitParam(p.limit),
    state: stateParam(p.state),
    pipeline,
    branch: branchParam(p.branch),
    since,
    until,
    after: cursorParam(p.cursor),
  };
}
