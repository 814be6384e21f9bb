// The JSON of the live streams (`GET /runs/:id/events`, `GET /runs/stream`): each SSE event's
// `data`, as zod schemas (documented in the OpenAPI document's components). Stage fields keep
// StageView's names and the runs list sends whole RunViews, so a page updates the objects it got
// from the JSON API in place.
import { z } from "@hono/zod-openapi";
import { RunViewSchema } from "./run-types";

const time = z.string().openapi({ format: "date-time" });

/** A stage moved: the event's own values (a replayed event is as it was then, not the stage now). */
export const StageEventViewSchema = z
  .object({
    seq: z.number().int(),
    at: time,
    runId: z.string(),
    stage: z
      .object({
        name: z.string(),
        state: z.string(),
        attempt: z.number().int(),
        agentId: z.string().nullable(),
        agentName: z.string().nullable(),
        exitCode: z.number().int().nullable(),
        reason: z.string().nullable(),
      })
      .describe(
        "StageView's names: `state` (or, just before a retry's `queued`, the ended attempt's outcome), `attempt`, ...",
      ),
  })
  .openapi("StageEvent");
export type StageEventView = z.infer<typeof StageEventViewSchema>;

/** One chunk of a stage attempt's output (whole lines as the agent sent them; secrets already masked). */
export const LogEventViewSchema = z
  .object({
    seq: z.number().int(),
    at: time,
    runId: z.string(),
    stage: z.string(),
    attempt: z.number().int(),
    stream: z.string().describe("stdout | stderr | system"),
    text: z.string(),
  })
  .openapi("LogEvent");
export type LogEventView = z.infer<typeof LogEventViewSchema>;

/** What an approval stage did (waiting, reminder, approved, rejected, timed_out, canceled). */
export const ApprovalEventViewSchema = z
  .object({
    seq: z.number().int(),
    at: time,
    runId: z.string(),
    stage: z.string(),
    action: z.string(),
    by: z.string().nullable(),
    comment: z.string().nullable(),
    reason: z.string().nullable(),
  })
  .openapi("ApprovalEvent");
export type ApprovalEventView = z.infer<typeof ApprovalEventViewSchema>;

/** The run's state changed; `run` is the run as it is when the event is sent. */
export const RunStateEventViewSchema = z
  .object({ seq: z.number().int(), at: time, runId: z.string(), state: z.string(), run: RunViewSchema })
  .openapi("RunStateEvent");
export type RunStateEventView = z.infer<typeof RunStateEventViewSchema>;

/** `event: gap`: the client read too slowly and events were dropped; it resumes from `lastSeq`. */
export const GapEventViewSchema = z
  .object({ lastSeq: z.number().int().nullable(), reason: z.string() })
  .openapi("GapEvent");

/** One event of a run, by SSE event name; `seq` is the SSE `id`. */
export type LiveRunEvent =
  | { event: "stage"; data: StageEventView }
  | { event: "log"; data: LogEventView }
  | { event: "run"; data: RunStateEventView }
  | { event: "approval"; data: ApprovalEventView };
