// The JSON of the live streams (`GET /runs/:id/events`, `GET /runs/stream`): each SSE event's
// `data`. Stage fields keep StageView's names and the runs list sends whole RunViews, so a page
// updates the objects it got from the JSON API in place.
import type { RunView } from "./types";

/** A stage moved: the event's own values (a replayed event is as it was then, not the stage now). */
export interface StageEventView {
  seq: number;
  at: string;
  runId: string;
  /** StageView's names: `state` (or, just before a retry's `queued`, the ended attempt's outcome), `attempt`, ... */
  stage: {
    name: string;
    state: string;
    attempt: number;
    agentId: string | null;
    agentName: string | null;
    exitCode: number | null;
    reason: string | null;
  };
}

/** One chunk of a stage attempt's output (whole lines as the agent sent them; secrets already masked). */
export interface LogEventView {
  seq: number;
  at: string;
  runId: string;
  stage: string;
  attempt: number;
  /** stdout | stderr | system */
  stream: string;
  text: string;
}

/** The run's state changed; `run` is the run as it is when the event is sent. */
export interface RunStateEventView {
  seq: number;
  at: string;
  runId: string;
  state: string;
  run: RunView;
}

/** What an approval stage did (waiting, reminder, approved, rejected, timed_out, canceled). */
export interface ApprovalEventView {
  seq: number;
  at: string;
  runId: string;
  stage: string;
  action: string;
  by: string | null;
  comment: string | null;
  reason: string | null;
}

/** One event of a run, by SSE event name; `seq` is the SSE `id`. */
export type LiveRunEvent =
  | { event: "stage"; data: StageEventView }
  | { event: "log"; data: LogEventView }
  | { event: "run"; data: RunStateEventView }
  | { event: "approval"; data: ApprovalEventView };

/** What the live routes call. */
export interface LiveWebServices {
  /**
   * The run `runRef` names, then its events after `afterSeq` (from Postgres, then live from any replica) until the
   * run ends or `signal` aborts. Rejects with "not_found" before anything is streamed. The iterable is pulled as fast
   * as it yields: the route bounds what it keeps per client, not the iterable.
   */
  runEvents(
    runRef: string,
    afterSeq: number,
    signal: AbortSignal,
  ): Promise<{ run: RunView; events: AsyncIterable<LiveRunEvent> }>;
  /**
   * The newest `limit` runs, then every run created or changed (run or stage state) as it changes, until `signal`
   * aborts. A change may be sent more than once; a client keeps the last view of each run id.
   */
  runChanges(limit: number, signal: AbortSignal): Promise<{ runs: RunView[]; changes: AsyncIterable<RunView> }>;
}
