// The live streams' services (LiveWebServices): a run's events through watchRun (the same
// resume-by-seq the gRPC WatchRun uses: Postgres, then NATS, gaps filled from Postgres) as the
// JSON of web's live-types, and the runs list through the process's one RunsFeed.
import type { LiveRunEvent, LiveWebServices, RunView } from "@dockyard/web";
import type { RunEvent } from "@dockyard/proto";
import type { Db } from "./store/db";
import type { NatsBus } from "./transport/nats/nats-bus";
import type { RunsService } from "./runs-service";
import { watchRun } from "./transport/run-watch";
import { runView } from "./web-services";
import { RunsFeed, liveQueue } from "./runs-feed";
import { RunEventsHub } from "./transport/run-events-hub";

const STREAMS = ["unspecified", "stdout", "stderr", "system"];
const decoder = new TextDecoder();

async function toLive(e: RunEvent, run: (id: string) => Promise<RunView>): Promise<LiveRunEvent | null> {
  const base = { seq: Number(e.seq), at: new Date(Number(e.atMs)).toISOString(), runId: e.runId };
  switch (e.body.case) {
    case "log": {
      const v = e.body.value;
      const text = decoder.decode(v.data);
      return {
        event: "log",
        data: { ...base, stage: v.stageName, attempt: v.attempt, stream: STREAMS[v.stream] ?? "unspecified", text },
      };
    }
    case "stage": {
      const v = e.body.value;
      const stage = {
        name: v.stageName,
        state: v.state,
        attempt: v.attempt,
        agentId: v.agentId || null,
        agentName: v.agentName || null,
        exitCode: v.exitCode ?? null,
        reason: v.reason || null,
      };
      return { event: "stage", data: { ...base, stage } };
    }
    case "approval": {
      const v = e.body.value;
      return {
        event: "approval",
        data: {
          ...base,
          stage: v.stageName,
          action: v.action,
          by: v.by || null,
          comment: v.comment || null,
          reason: v.reason || null,
        },
      };
    }
    case "run":
      return { event: "run", data: { ...base, state: e.body.value.state, run: await run(e.runId) } };
    default:
      return null;
  }
}

export function liveServices(
  runs: RunsService,
  db: Db,
  bus: NatsBus,
  onError: (err: unknown) => void,
): LiveWebServices {
  const getView = async (id: string) => runView(await runs.get(id));
  const hub = new RunEventsHub(bus);
  // A live event reaches every watcher of its run as the same object: converted (and, by the route, encoded) once.
  const converted = new WeakMap<RunEvent, Promise<LiveRunEvent | null>>();
  // The conversions that have finished, read without an `await` (a turn of the microtask queue per
  // event per watcher): only a `run` event's conversion waits for anything (the run's view).
  const done = new WeakMap<RunEvent, LiveRunEvent | null>();
  const convert = (e: RunEvent) => {
    let live = converted.get(e);
    if (!live) {
      converted.set(e, (live = toLive(e, getView)));
      void live.then(
        (v) => done.set(e, v),
        () => undefined,
      );
    }
    return live;
  };
  const feed = new RunsFeed({
    list: async (limit) => (await runs.list({ limit })).map(runView),
    get: getView,
    watch: (onRun) => bus.watchRunsChanged(onRun),
    pollMs: 2000,
    onError,
  });
  return {
    runEvents: async (ref, afterSeq, signal) => {
      const run = runView(await runs.get(ref));
      const source = watchRun(db, hub, { runId: run.id, afterSeq, follow: true, stage: "", signal });
      async function* events(): AsyncGenerator<LiveRunEvent> {
        for await (const e of source) {
          const live = done.has(e) ? done.get(e) : await convert(e);
          if (live) yield live;
        }
      }
      return { run, events: events() };
    },
    runChanges: async (limit, signal) => {
      // Attached before the list is read: a change in between is sent after the snapshot, not lost.
      const changes = liveQueue<RunView>(signal, (push) => feed.subscribe(push));
      return { runs: (await runs.list({ limit })).map(runView), changes };
    },
  };
}
