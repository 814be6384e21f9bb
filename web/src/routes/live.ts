// Live streams over Server-Sent Events: `GET /runs/:id/events` (a run's events, resumable
// with Last-Event-ID or ?after=SEQ: replayed from Postgres, then live, on any replica) and
// `GET /runs/stream` (the runs list: a snapshot, then each run as it changes). A client that
// reads slower than events come (its buffer stays full for slowMs) gets `event: gap` naming the last seq
// it got, and the stream ends: it resumes from there, so the server keeps at most
// `bufferBytes` per client.
import type { Context, Hono } from "hono";
import type { AppEnv, LiveWebServices } from "../types";
import { SseStream, encodeEvent, type SseOptions } from "../sse";
import { invalid, onlyParams, wholeParam } from "./input";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "../limits";

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

/** Where to resume: Last-Event-ID (an EventSource reconnecting) wins over ?after (the page's first connect). */
function afterSeq(c: Context): number {
  const after = wholeParam(c, "after", 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const header = c.req.header("last-event-id");
  if (header === undefined || header === "") return after;
  if (!/^\d{1,16}$/.test(header) || Number(header) > Number.MAX_SAFE_INTEGER)
    throw invalid(`invalid Last-Event-ID '${header.slice(0, 32)}': expected a run event seq (a whole number)`);
  return Number(header);
}

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
export function liveRoutes(api: Hono<AppEnv>, services: LiveWebServices, opts: LiveOptions): void {
  api.get("/runs/stream", async (c) => {
    onlyParams(c, ["limit"]);
    const limit = wholeParam(c, "limit", 1, MAX_RUNS_LIMIT) ?? DEFAULT_RUNS_LIMIT;
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
    return c.body(sse.stream, 200, SSE_HEADERS);
  });

  api.get("/runs/:id/events", async (c) => {
    onlyParams(c, ["after"]);
    const after = afterSeq(c);
    const sse = new SseStream(opts);
    const { run, events } = await services.runEvents(c.req.param("id"), after, sse.signal).catch((err: unknown) => {
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
    return c.body(sse.stream, 200, SSE_HEADERS);
  });
}
