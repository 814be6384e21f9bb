// Live streams over Server-Sent Events: `GET /runs/:id/events` (a run's events, resumable
// with Last-Event-ID or ?after=SEQ: replayed from Postgres, then live, on any replica) and
// `GET /runs/stream` (the runs list: a snapshot, then each run as it changes). A client that
// reads slower than events come (its buffer stays full for slowMs) gets `event: gap` naming the last seq
// it got, and the stream ends: it resumes from there, so the server keeps at most
// `bufferBytes` per client.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv, LiveWebServices } from "../types";
import { SseStream, encodeEvent, type SseOptions } from "../sse";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "../limits";
import { queryObject, wholeQuery } from "./fields";
import { AUTH_ERRORS, BEARER, errorResponses, untyped } from "./validate";
import { RunRefParams } from "./runs";

export interface LiveOptions extends SseOptions {
  /** A client whose buffer stays full this long is too slow: what does not fit is dropped (then `gap`). */
  slowMs: number;
  /** How long a slow client gets to make room for the `gap` event before the stream just ends. */
  gapWaitMs: number;
  /** Errors of a stream after its headers went out (logged by the server; the client reconnects). */
  onError?: (err: Error) => void;
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

const LAST_EVENT_ID = z
  .string()
  .refine((h) => h === "" || (/^\d{1,16}$/.test(h) && Number(h) <= Number.MAX_SAFE_INTEGER), {
    error: (iss) =>
      `invalid Last-Event-ID '${String(iss.input).slice(0, 32)}': expected a run event seq (a whole number)`,
  })
  .optional()
  .openapi({ description: "Resume after this seq (an EventSource reconnecting sends it); wins over `after`." });

/** The body of an SSE response: `id`/`event`/`data` lines; each event's `data` is one JSON object. */
function sseResponse(description: string) {
  return {
    description,
    content: { "text/event-stream": { schema: { type: "string" as const, description } } },
  };
}

const runEventsRoute = createRoute({
  method: "get",
  path: "/runs/{id}/events",
  tags: ["runs", "live"],
  summary: "A run's events and log lines as Server-Sent Events, resumable",
  security: BEARER,
  request: {
    params: RunRefParams,
    query: queryObject({ after: wholeQuery("after", 0, Number.MAX_SAFE_INTEGER, "Resume after this run event seq.") }),
    headers: z.object({ "last-event-id": LAST_EVENT_ID }),
  },
  responses: {
    200: sseResponse(
      "`snapshot` {run} (no id), then `stage` (StageEvent), `log` (LogEvent), `run` (RunStateEvent) and `approval` " +
        "(ApprovalEvent) with the event seq as id; `end` {lastSeq} when the run ended, or `gap` (GapEvent) when the " +
        "client read too slowly (resume from lastSeq).",
    ),
    ...errorResponses(400, ...AUTH_ERRORS, 404),
  },
});

const runsStreamRoute = createRoute({
  method: "get",
  path: "/runs/stream",
  tags: ["runs", "live"],
  summary: "The runs list as Server-Sent Events: a snapshot, then each run as it changes",
  security: BEARER,
  request: {
    query: queryObject({
      limit: wholeQuery("limit", 1, MAX_RUNS_LIMIT, `Runs in the snapshot (default ${DEFAULT_RUNS_LIMIT}).`),
    }),
  },
  responses: {
    200: sseResponse("`runs` {runs: Run[]}, then `run` {run: Run} per change; `gap` when the client read too slowly."),
    ...errorResponses(400, ...AUTH_ERRORS),
  },
});

/** Sends `gap` (with the last seq the client got, as its id) once it fits, then ends the stream. */
async function endWithGap(sse: SseStream, opts: LiveOptions, lastSeq: number | null): Promise<void> {
  const gap = { event: "gap", data: { lastSeq, reason: "client too slow: events were dropped; resume from lastSeq" } };
  const e = lastSeq === null ? gap : { ...gap, id: lastSeq };
  if (await sse.waitForRoom(encodeEvent(e).byteLength, opts.gapWaitMs)) sse.send(e);
  sse.close();
}

function pump(sse: SseStream, opts: LiveOptions, work: () => Promise<void>): void {
  work().catch((err: unknown) => {
    if (!sse.closed) opts.onError?.(err instanceof Error ? err : new Error(String(err)));
    sse.close();
  });
}

/** Mounts the live routes on the API router (behind its access check). `/runs/stream` must precede `/runs/:id`. */
export function liveRoutes(api: OpenAPIHono<AppEnv>, services: LiveWebServices, opts: LiveOptions): void {
  api.openapi(runsStreamRoute, async (c) => {
    const limit = c.req.valid("query").limit ?? DEFAULT_RUNS_LIMIT;
    const sse = new SseStream(opts);
    const { runs, changes } = await services.runChanges(limit, sse.signal).catch((err: unknown) => {
      sse.close();
      throw err;
    });
    sse.send({ event: "runs", data: { runs } });
    pump(sse, opts, async () => {
      for await (const run of changes) {
        if (sse.closed) return;
        if (!(await sse.offer({ event: "run", data: { run } }, opts.slowMs))) return endWithGap(sse, opts, null);
      }
      sse.close();
    });
    return untyped(c.body(sse.stream, 200, SSE_HEADERS));
  });

  api.openapi(runEventsRoute, async (c) => {
    // Where to resume: Last-Event-ID (an EventSource reconnecting) wins over ?after (the page's first connect).
    const header = c.req.valid("header")["last-event-id"];
    const after = header ? Number(header) : (c.req.valid("query").after ?? 0);
    const sse = new SseStream(opts);
    const { run, events } = await services
      .runEvents(c.req.valid("param").id, after, sse.signal)
      .catch((err: unknown) => {
        sse.close();
        throw err;
      });
    // No id: a snapshot does not move the client's Last-Event-ID.
    sse.send({ event: "snapshot", data: { run } });
    pump(sse, opts, async () => {
      let delivered = after;
      for await (const e of events) {
        if (sse.closed) return;
        if (!(await sse.offer({ id: e.data.seq, event: e.event, data: e.data }, opts.slowMs)))
          return endWithGap(sse, opts, delivered);
        delivered = e.data.seq;
      }
      // The run ended and every event was sent: `end` tells an EventSource to close rather than reconnect.
      if (!sse.closed && (await sse.waitForRoom(256, opts.gapWaitMs)))
        sse.send({ id: delivered, event: "end", data: { lastSeq: delivered } });
      sse.close();
    });
    return untyped(c.body(sse.stream, 200, SSE_HEADERS));
  });
}
