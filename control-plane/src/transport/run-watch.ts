// Watch a run: history from Postgres, then live events from NATS, resumable
// from any seq. NATS is subscribed before history is read; gaps (a missed
// message) are filled from the database, and a quiet second triggers a
// database check, so a watcher never misses or repeats an event.
import type { RunEvent } from "@dockyard/proto";
import type { Db } from "../store/db";
import { listEvents } from "../store/runs";
import { getRun, type RunWithStages } from "../store/runs";
import { isTerminalRun, isTerminalStage } from "../domain/states";
import { noSuchAttempt, stageNamed } from "../stage-lookup";
import type { RunEventSource } from "./run-events-hub";
import { toRunEvent } from "./convert";

export interface WatchOptions {
  runId: string;
  afterSeq: number;
  follow: boolean;
  /** Stage name filter; run events always pass. */
  stage: string;
  /** With `stage`: only this attempt's events; 0 = all. */
  attempt?: number;
  signal: AbortSignal;
}

const POLL_MS = 1000;

function passes(e: RunEvent, stage: string, attempt: number): boolean {
  if (!stage || e.body.case === "run") return true;
  if (e.body.case !== "stage" && e.body.case !== "log") return false;
  return e.body.value.stageName === stage && (attempt === 0 || e.body.value.attempt === attempt);
}

/**
 * NotFoundError for a stage the run does not have (naming the ones it has), or an attempt
 * the stage does not have and will not get (not following, or the stage has ended).
 */
function checkFilter(run: RunWithStages, opts: WatchOptions): void {
  if (!opts.stage) return;
  const stage = stageNamed(run, opts.stage);
  const attempt = opts.attempt ?? 0;
  if (attempt > stage.attempts && (!opts.follow || isTerminalStage(stage.state)))
    throw noSuchAttempt(run, stage, attempt);
}

function endsRun(e: RunEvent): boolean {
  return e.body.case === "run" && isTerminalRun(e.body.value.state);
}

export async function* watchRun(db: Db, bus: RunEventSource, opts: WatchOptions): AsyncGenerator<RunEvent> {
  checkFilter(await getRun(db, opts.runId), opts); // NotFoundError for unknown runs, stages and attempts
  const attempt = opts.stage ? (opts.attempt ?? 0) : 0;
  const live: RunEvent[] = [];
  let wake: (() => void) | null = null;
  const sub = opts.follow
    ? bus.watchRunEvents(opts.runId, (e) => {
        live.push(e);
        wake?.();
      })
    : null;
  const onAbort = () => wake?.();
  // One quiet-second timer per watcher, restarted at each wait: a new timer per wait left one
  // behind per watcher per event (200 browsers on a busy run: thousands a second, firing for nothing).
  const quiet = setTimeout(() => wake?.(), POLL_MS);
  quiet.unref();
  opts.signal.addEventListener("abort", onAbort);
  let last = opts.afterSeq;
  let ended = false;
  try {
    const fromDb = async function* () {
      for (;;) {
        const page = await listEvents(db, opts.runId, last, 500);
        for (const rec of page) {
          const e = toRunEvent(rec);
          last = rec.seq;
          if (endsRun(e)) ended = true;
          if (passes(e, opts.stage, attempt)) yield e;
        }
        if (page.length < 500) return;
      }
    };
    yield* fromDb();
    if (!opts.follow || ended) return;
    while (!opts.signal.aborted && !ended) {
      if (live.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          quiet.refresh();
        });
        wake = null;
        if (live.length === 0) {
          yield* fromDb();
          continue;
        }
      }
      const e = live.shift()!;
      const seq = Number(e.seq);
      if (seq <= last) continue;
      if (seq > last + 1) {
        yield* fromDb();
        continue;
      }
      last = seq;
      if (endsRun(e)) ended = true;
      if (passes(e, opts.stage, attempt)) yield e;
    }
  } finally {
    clearTimeout(quiet);
    sub?.close();
    opts.signal.removeEventListener("abort", onAbort);
  }
}
