// The JSON of the live streams (`GET /runs/:id/events`, `GET /runs/stream`): each SSE event's
// `data`. Stage fields keep StageView's names and the runs list sends whole RunViews, so a page
// updates the objects it got from the JSON API in place. The events that carry a RunView, and
// the services, are in types.ts (which imports these).

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
