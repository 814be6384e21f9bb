// The public JSON of runs, stages and attempts, as zod schemas: the HTTP routes answer them, the
// OpenAPI document is generated from them, and the TypeScript types are inferred from them (the
// CLI's `--json` prints the same objects). Times are ISO-8601 UTC strings, null when unset; a value
// that does not exist (yet) is null, never "" or 0. Fields may be added; none are renamed or removed.
import { z } from "@hono/zod-openapi";

const time = z.string().openapi({ format: "date-time" });
const maybeTime = time.nullable();

/** One attempt of a stage: every try is its own entry, lost and timed-out ones included. */
export const AttemptViewSchema = z
  .object({
    number: z.number().int().describe("1, 2, ... in the order they were made."),
    state: z.string().describe("assigned | running | succeeded | failed | errored | canceled | lost | timeout"),
    agentId: z.string().nullable().describe("null for an attempt the server itself ran (approval, notify)."),
    agentName: z.string().nullable(),
    assignedAt: maybeTime,
    startedAt: maybeTime,
    finishedAt: maybeTime,
    exitCode: z
      .number()
      .int()
      .nullable()
      .describe("null when it ended without one (lost, timeout, canceled) or has not ended."),
    reason: z.string().nullable().describe("Why it ended the way it did, e.g. `agent lost: no heartbeat`."),
  })
  .openapi("Attempt");
export type AttemptView = z.infer<typeof AttemptViewSchema>;

/** What a stage's successful (or, for tests, failed) attempt reported. */
export const OutputsViewSchema = z
  .object({
    values: z.record(z.string(), z.string()).describe("Strings later stages read as ${{ stages.NAME.outputs.KEY }}."),
    image: z
      .object({
        ref: z.string(),
        id: z.string(),
        digest: z.string().nullable(),
        sizeBytes: z.number(),
        layers: z.number().int(),
      })
      .nullable()
      .describe("A build's image; `digest` is the registry's, null when the image was not pushed."),
    tests: z
      .object({
        passed: z.number().int(),
        failed: z.number().int(),
        skipped: z.number().int(),
        errors: z.number().int(),
        total: z.number().int(),
      })
      .nullable()
      .describe("A test stage's JUnit counts."),
    summary: z
      .string()
      .nullable()
      .describe("One line the stage's kind makes of its outputs (`image app:3  3.0 MB, 3 layers`); null when none."),
  })
  .openapi("Outputs");
export type OutputsView = z.infer<typeof OutputsViewSchema>;

export const StageViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    type: z.string().describe("command | build | deploy | test | approval | ..."),
    state: z.string(),
    needs: z.array(z.string()),
    attempts: z.number().int().describe("How many attempts were made; `attemptHistory` has one entry each."),
    exitCode: z
      .number()
      .int()
      .nullable()
      .describe("null while it has none: not ended, errored before its command exited, lost, timed out, canceled."),
    reason: z
      .string()
      .nullable()
      .describe("Why a pending or queued stage waits; once ended, its last attempt's own reason."),
    agentId: z.string().nullable(),
    startedAt: maybeTime,
    finishedAt: maybeTime,
    attemptHistory: z.array(AttemptViewSchema),
    outputs: OutputsViewSchema.nullable(),
  })
  .openapi("Stage");
export type StageView = z.infer<typeof StageViewSchema>;

export const RunViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    state: z.string(),
    startedBy: z.string().nullable().describe("The user who submitted it; null for runs older than users."),
    source: z
      .string()
      .nullable()
      .describe("Where it came from (`cli:dockyard.yml`); null when the submitter gave nothing."),
    branch: z
      .string()
      .nullable()
      .describe("The pushed branch of a run a git push started (`POST /hooks/v1/git/:name`); null otherwise."),
    commit: z
      .string()
      .nullable()
      .describe(
        "The commit the run is for (the pushed commit, or DOCKYARD_COMMIT from the submitter); null when unknown.",
      ),
    createdAt: time,
    finishedAt: maybeTime,
    durationMs: z.number().nullable().describe("finishedAt - createdAt; null while the run is not finished."),
    stages: z.array(StageViewSchema).describe("In pipeline order (`GET /runs` lists them too)."),
  })
  .openapi("Run");
export type RunView = z.infer<typeof RunViewSchema>;

/** `GET /api/v1/runs`: a page, and the cursor of the next one (null on the last page). */
export const RunPageViewSchema = z
  .object({ runs: z.array(RunViewSchema), nextCursor: z.string().nullable() })
  .openapi("RunPage");
export type RunPageView = z.infer<typeof RunPageViewSchema>;

/** The answer to a git push webhook: the run started, or why none was. */
export const GitPushViewSchema = z
  .object({
    repo: z.string(),
    delivery: z.string(),
    ignored: z
      .string()
      .nullable()
      .describe("Set when the push started nothing: a ping, another event, a tag, a deleted or unmatched branch."),
    branch: z.string().nullable(),
    commit: z.string().nullable(),
    run: RunViewSchema.nullable(),
  })
  .openapi("GitPush");
export type GitPushView = z.infer<typeof GitPushViewSchema>;

/** A page of one stage attempt's output (`GET /runs/:id/stages/:stage/logs`); answered as text with headers. */
export interface StageLogView {
  /** The run's full id (the request may have named it by prefix or PIPELINE#NUMBER). */
  runId: string;
  /** The attempt read; null while the stage has made none (the page is then empty). */
  attempt: number | null;
  attempts: number;
  /** The attempt's bytes as stored (secrets already masked), stdout, stderr and the farm's notes in order. */
  data: Uint8Array;
  /** Where the next page starts (its `from`). */
  nextFrom: number;
  /** The attempt has ended and this page holds its last bytes. */
  complete: boolean;
}

/** What `GET /api/v1/runs` asks the services for: every filter is optional, all given ones must match. */
export interface RunListQuery {
  /** 1 to MAX_RUNS_LIMIT. */
  limit: number;
  /** A run state (RUN_STATES). */
  state?: string;
  /** The pipeline's name (the run's name). */
  pipeline?: string;
  /** The branch a git push started it from (exact). */
  branch?: string;
  /** Created at or after. */
  since?: Date;
  /** Created before. */
  until?: Date;
  /** From the cursor: only runs older than this key (the previous page's last run). */
  after?: { createdAt: Date; id: string };
}
