// bench/container.ts's timeline: the test Docker engine's event stream (containers and
// volumes, on this machine's clock), the offsets of a sample's container events from its
// start, and the BENCH_PHASES=1 breakdown of where each kind's time goes (engine events plus
// the stage runs' rows in Postgres: created, assigned, started, finished), printed to stderr.
import type { dockerFromEnv } from "@dockyard/agent";
import type { Farm } from "@dockyard/test";
import { quantile, round } from "./stats";

type Docker = ReturnType<typeof dockerFromEnv>;
/** The kinds of samples: the farm's stage, the docker CLI, dockerode, the executor's config through dockerode. */
export type Kind = "stage" | "cli" | "api" | "agentcfg";
/** Per kind, one record per measured sample: ms from the sample's start to each named point. */
export type Phases = Record<Kind, Record<string, number>[]>;
/** A measured stage sample's run: its id, the sample's start, SubmitRun answered, the end seen (epoch ms). */
export interface StageRun {
  id: string;
  t0: number;
  submitted: number;
  observed: number;
}

/** One engine event: what, to which object, when (epoch ms). */
export interface EngineEvent {
  type: string;
  action: string;
  id: string;
  attrs: Record<string, string>;
  at: number;
}

/** Follows the engine's event stream (containers and volumes); `since` filters what a sample saw. */
export async function followEngine(docker: Docker) {
  const events: EngineEvent[] = [];
  const waiters: (() => void)[] = [];
  const stream = (await docker.getEvents({ filters: { type: ["container", "volume"] } })) as NodeJS.ReadableStream & {
    destroy(): void;
  };
  let buf = "";
  stream.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as {
        Type: string;
        Action: string;
        Actor: { ID: string; Attributes?: Record<string, string> };
        timeNano: number;
      };
      events.push({
        type: e.Type,
        action: e.Action,
        id: e.Actor.ID,
        attrs: e.Actor.Attributes ?? {},
        at: e.timeNano / 1e6,
      });
      for (const w of waiters.splice(0)) w();
    }
  });
  stream.on("error", () => undefined); // destroyed at the end
  return {
    events,
    /** Resolves once `pred` holds for some event (or after timeoutMs: false). */
    async until(pred: (e: EngineEvent) => boolean, timeoutMs = 10_000): Promise<EngineEvent | undefined> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) return undefined;
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200).unref();
        });
      }
    },
    close: () => stream.destroy(),
  };
}
export type Engine = Awaited<ReturnType<typeof followEngine>>;

/** Offsets (ms from the sample's start) of its containers' events, by action. */
export function containerSteps(
  engine: Engine,
  since: number,
  match: (e: EngineEvent) => boolean,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of engine.events) {
    if (e.at < since - 1 || e.type !== "container" || !match(e)) continue;
    if (!(e.action in out)) out[e.action] = e.at - since;
  }
  return out;
}

/**
 * Prints the BENCH_PHASES breakdown: per kind, the p50 at each point and of each step; the stage's cleanup and the
 * farm's own time.
 */
export async function printPhases(
  farm: Farm,
  s: { runIds: StageRun[]; phases: Phases; times: Record<Kind, number[]>; cleanup: number[] },
): Promise<void> {
  const { runIds, phases, times, cleanup } = s;
  // The runs' own timestamps: created, assigned, started (the agent's report), finished.
  const rows = await farm.pg.query<{
    id: string;
    created: number;
    assigned: number;
    started: number;
    finished: number;
    run_finished: number;
    end_event: number;
  }>(
    `
    SELECT r.id, extract(epoch FROM r.created_at) * 1000 AS created, extract(epoch FROM a.assigned_at) * 1000 AS assigned,
      extract(epoch FROM a.started_at) * 1000 AS started, extract(epoch FROM a.finished_at) * 1000 AS finished,
      extract(epoch FROM r.finished_at) * 1000 AS run_finished,
      (SELECT extract(epoch FROM max(e.at)) * 1000 FROM run_events e WHERE e.run_id = r.id AND e.kind = 'run') AS end_event
    FROM runs r JOIN attempts a ON a.run_id = r.id WHERE r.id = ANY($1)`,
    [runIds.map((r) => r.id)],
  );
  const byId = new Map(rows.rows.map((r) => [r.id, r]));
  runIds.forEach((r, i) => {
    const row = byId.get(r.id);
    if (!row) return;
    Object.assign(phases.stage[i]!, {
      db_created: Number(row.created) - r.t0,
      db_assigned: Number(row.assigned) - r.t0,
      db_started: Number(row.started) - r.t0,
      db_attempt_finished: Number(row.finished) - r.t0,
      db_run_finished: Number(row.run_finished) - r.t0,
      db_end_event: Number(row.end_event) - r.t0,
    });
  });
  const order: Record<Kind, string[]> = {
    stage: [
      "submit",
      "db_created",
      "db_assigned",
      "create",
      "attach",
      "start",
      "db_started",
      "die",
      "db_attempt_finished",
      "db_run_finished",
      "db_end_event",
      "observed",
      "destroy",
    ],
    cli: ["create", "attach", "start", "die", "destroy", "exited"],
    api: ["create", "attach", "start", "die", "destroy", "returned"],
    agentcfg: ["create", "attach", "start", "die", "exited", "destroy", "removed"],
  };
  for (const kind of ["stage", "cli", "api", "agentcfg"] as Kind[]) {
    const steps = order[kind].filter((s) => phases[kind].some((p) => s in p));
    console.error(`${kind}: p50 ms from the start to each point (then the p50 of each step)`);
    let prev = "t0";
    for (const s of steps) {
      const at = phases[kind].map((p) => p[s]).filter((x): x is number => x !== undefined && !Number.isNaN(x));
      const step = phases[kind]
        .map((p) => (s in p && (prev === "t0" || prev in p) ? p[s]! - (prev === "t0" ? 0 : p[prev]!) : NaN))
        .filter((x) => !Number.isNaN(x));
      console.error(
        `  ${s.padEnd(20)} at ${String(round(quantile(at, 0.5))).padStart(7)}   step ${prev} -> ${s}: ${round(quantile(step, 0.5))}`,
      );
      prev = s;
    }
  }
  console.error("stage cleanup after its end (container and volume gone), p50 ms", round(quantile(cleanup, 0.5)));
  // The farm's own time on the stage's path: before its container exists, and from its exit to the watcher.
  const own = phases.stage.map((p, i) => ({
    head: p.create! - (phases.agentcfg[i]?.create ?? NaN),
    tail: p.observed! - p.die!,
  }));
  console.error(
    "stage: container created later than the same config through dockerode (paired, p50 ms)",
    round(
      quantile(
        own.map((o) => o.head).filter((x) => !Number.isNaN(x)),
        0.5,
      ),
    ),
    "; container exit -> run end seen by the watcher (p50 ms)",
    round(
      quantile(
        own.map((o) => o.tail).filter((x) => !Number.isNaN(x)),
        0.5,
      ),
    ),
  );
  console.error(
    "samples ms",
    JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map(round)]))),
  );
}
