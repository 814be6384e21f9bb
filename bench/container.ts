// npm run bench -- container
// What a docker stage costs over the container it runs. A local farm (server in
// this process, production timings, one agent process with the docker executor,
// real Postgres, NATS and the test Docker engine) against the same engine used
// directly. Three kinds of samples, interleaved (A B C A B C ...) so the
// machine's speed swings hit all alike, one at a time, after a few warm-ups:
//  - stage: a one-stage pipeline, `true` in dockyard/busybox:1. From calling
//    SubmitRun to the run's terminal event arriving on its WatchRun stream
//    (follow, from seq 0: what `dockyard run` waits on);
//  - cli: `docker -H <engine> run --rm --network none dockyard/busybox:1 true`,
//    the docker CLI process timed from spawn to exit (its own start included);
//  - api: the same through dockerode in this process: create, attach, start,
//    wait, remove (the second reference: no CLI process start).
// Before the next sample, the previous one's containers (and the stage's
// workspace volume) must be gone; that wait is not counted (for the stage it
// is reported as cleanup_after_end).
// Prints one JSON line last. BENCH_PHASES=1 also prints where each kind's time
// goes, from the engine's events (container/volume create, start, die,
// destroy) and the run's rows in Postgres (created, assigned, started,
// finished), all on this machine's clock. BENCH_SAMPLES, BENCH_WARMUP change
// the sizes.
import { execFile } from "node:child_process";
import { dockerFromEnv } from "@dockyard/agent";
import { startFarm, waitFor, DOCKER_HOST } from "@dockyard/test";

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const IMAGE = "dockyard/busybox:1";
const TERMINAL = new Set(["succeeded", "failed", "errored", "canceled"]);

type Docker = ReturnType<typeof dockerFromEnv>;
type Kind = "stage" | "cli" | "api" | "agentcfg";

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]! : NaN;
};
const round = (x: number) => Math.round(x * 10) / 10;
/** Milliseconds since the epoch, sub-millisecond (the engine's and Postgres' stamps are on the same clock). */
const now = () => performance.timeOrigin + performance.now();

/** One engine event: what, to which object, when (epoch ms). */
interface EngineEvent {
  type: string;
  action: string;
  id: string;
  attrs: Record<string, string>;
  at: number;
}

/** Follows the engine's event stream (containers and volumes); `since` filters what a sample saw. */
async function followEngine(docker: Docker) {
  const events: EngineEvent[] = [];
  const waiters: (() => void)[] = [];
  const stream = (await docker.getEvents({ filters: { type: ["container", "volume"] } })) as NodeJS.ReadableStream & { destroy(): void };
  let buf = "";
  stream.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { Type: string; Action: string; Actor: { ID: string; Attributes?: Record<string, string> }; timeNano: number };
      events.push({ type: e.Type, action: e.Action, id: e.Actor.ID, attrs: e.Actor.Attributes ?? {}, at: e.timeNano / 1e6 });
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
type Engine = Awaited<ReturnType<typeof followEngine>>;

/** Offsets (ms from the sample's start) of its containers' events, by action. */
function containerSteps(engine: Engine, since: number, match: (e: EngineEvent) => boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of engine.events) {
    if (e.at < since - 1 || e.type !== "container" || !match(e)) continue;
    if (!(e.action in out)) out[e.action] = e.at - since;
  }
  return out;
}

function runCli(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("docker", ["-H", DOCKER_HOST, "run", "--rm", "--network", "none", IMAGE, "true"], (err) => (err ? reject(err) : resolve()));
  });
}

async function runApi(docker: Docker, tag: string): Promise<void> {
  const c = await docker.createContainer({
    Image: IMAGE,
    Cmd: ["true"],
    Labels: { "dockyard.bench": tag },
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { NetworkMode: "none" },
  });
  const attach = await c.attach({ stream: true, stdout: true, stderr: true });
  attach.resume();
  await c.start();
  await c.wait();
  await c.remove({ force: true });
}

/**
 * The container the docker executor makes for a stage (agent/src/executor/docker.ts: init,
 * the default network mode, a pids limit, the run's workspace volume, the same env and
 * labels), straight through dockerode: what the stage would cost with no farm around it.
 * Resolves the exit (after wait + inspect, as the executor does) and the removal times.
 */
async function runAgentConfig(docker: Docker, tag: string): Promise<{ exited: number; removed: number }> {
  const volume = `dockyard-ws-bench-${tag}`;
  const c = await docker.createContainer({
    name: `dockyard-bench-${tag}`,
    Image: IMAGE,
    Cmd: ["sh", "-e", "-c", "true"],
    WorkingDir: "/workspace",
    Env: ["DOCKYARD=true", `DOCKYARD_RUN_ID=${tag}`, "DOCKYARD_STAGE=s", "DOCKYARD_ATTEMPT=1", `DOCKYARD_ATTEMPT_ID=${tag}`],
    Labels: {
      "dockyard.bench": tag,
      "dockyard.attempt": tag,
      "dockyard.run": tag,
      "dockyard.stage": tag,
      "dockyard.agent": "bench",
      "dockyard.attempt-number": "1",
    },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      Init: true,
      NetworkMode: "bridge",
      PidsLimit: 512,
      Mounts: [
        {
          Type: "volume",
          Source: volume,
          Target: "/workspace",
          VolumeOptions: { NoCopy: true, Labels: { "dockyard.bench": tag }, DriverConfig: { Name: "local", Options: {} } },
        },
      ],
    },
  });
  const attach = await c.attach({ stream: true, stdout: true, stderr: true });
  attach.resume();
  await c.start();
  await c.wait();
  await c.inspect();
  const exited = now();
  await c.remove({ force: true });
  await docker.getVolume(volume).remove();
  return { exited, removed: now() };
}

async function main() {
  const docker = dockerFromEnv({ DOCKER_HOST });
  await docker.getImage(IMAGE).inspect(); // scripts/bench.sh builds it
  const engine = await followEngine(docker);
  const farm = await startFarm({
    env: {
      DOCKYARD_HEARTBEAT_INTERVAL_MS: "3000",
      DOCKYARD_AGENT_LOST_TIMEOUT_MS: "15000",
      DOCKYARD_LEASE_TTL_MS: "15000",
      DOCKYARD_AGENT_POLL_INTERVAL_MS: "10000",
      DOCKYARD_SWEEP_INTERVAL_MS: "1000",
      DOCKYARD_SCHEDULER_INTERVAL_MS: "500",
    },
  });
  const { client } = farm;
  const agent = farm.spawnAgent({ name: "bench-docker", executor: "docker", capacity: 2, logLevel: process.env.BENCH_AGENT_LOG ?? "warn" });
  // On a failure main() exits without farm.stop(): take the agent process down with us.
  process.on("exit", () => agent.child.kill("SIGKILL"));
  await waitFor(async () => (await client.listAgents({})).agents.some((a) => a.state === "online"), {
    message: "the docker agent online",
    timeoutMs: 30_000,
  });

  const yaml = Buffer.from(`name: container\nstages:\n  s: { image: ${IMAGE}, command: 'true' }\n`);
  const times: Record<Kind, number[]> = { stage: [], cli: [], api: [], agentcfg: [] };
  const phases: Record<Kind, Record<string, number>[]> = { stage: [], cli: [], api: [], agentcfg: [] };
  const agentcfgRemoved: number[] = [];
  const runIds: { id: string; t0: number; submitted: number; observed: number }[] = [];
  const cleanup: number[] = [];
  let failed = 0;

  const stage = async (measured: boolean) => {
    const t0 = now();
    const { run } = await client.submitRun({ pipelineYaml: yaml, source: "bench" });
    const id = run!.id;
    const submitted = now();
    let state = "";
    const call = client.watchRun({ runId: id, afterSeq: 0n, follow: true, stage: "", attempt: 0 });
    call.on("error", () => undefined); // CANCELLED after the cancel below
    for await (const ev of call as AsyncIterable<{ body: { case?: string; value?: { state?: string } } }>) {
      if (ev.body.case === "run" && TERMINAL.has(ev.body.value!.state!)) {
        state = ev.body.value!.state!;
        break;
      }
    }
    const observed = now();
    call.cancel();
    if (state !== "succeeded") failed++;
    // The agent removes the container after reporting the end, the volume after the run's end notice.
    const gone = await engine.until((e) => e.type === "container" && e.action === "destroy" && e.attrs["dockyard.run"] === id);
    const volGone = await engine.until((e) => e.type === "volume" && e.action === "destroy" && e.id === `dockyard-ws-${id}`, 5_000);
    if (!measured) return;
    times.stage.push(observed - t0);
    runIds.push({ id, t0, submitted, observed });
    cleanup.push(Math.max(gone?.at ?? NaN, volGone?.at ?? NaN) - observed);
    phases.stage.push({ submit: submitted - t0, ...containerSteps(engine, t0, (e) => e.attrs["dockyard.run"] === id), observed: observed - t0 });
  };
  const cli = async (measured: boolean) => {
    const t0 = now();
    const seen = engine.events.length;
    await runCli();
    const t1 = now();
    // The CLI's container is the one without labels created after t0 (tests may share the engine).
    const created = engine.events
      .slice(seen)
      .find((e) => e.type === "container" && e.action === "create" && e.attrs.image === IMAGE && !Object.keys(e.attrs).some((k) => k.startsWith("dockyard.")));
    if (created) await engine.until((e) => e.id === created.id && e.action === "destroy");
    if (!measured) return;
    times.cli.push(t1 - t0);
    phases.cli.push({ ...(created ? containerSteps(engine, t0, (e) => e.id === created.id) : {}), exited: t1 - t0 });
  };
  let apiN = 0;
  const api = async (measured: boolean) => {
    const tag = `api-${process.pid}-${apiN++}`;
    const t0 = now();
    await runApi(docker, tag);
    const t1 = now();
    await engine.until((e) => e.action === "destroy" && e.attrs["dockyard.bench"] === tag);
    if (!measured) return;
    times.api.push(t1 - t0);
    phases.api.push({ ...containerSteps(engine, t0, (e) => e.attrs["dockyard.bench"] === tag), returned: t1 - t0 });
  };

  let cfgN = 0;
  const agentcfg = async (measured: boolean) => {
    const tag = `cfg-${process.pid}-${cfgN++}`;
    const t0 = now();
    const { exited, removed } = await runAgentConfig(docker, tag);
    await engine.until((e) => e.action === "destroy" && e.attrs["dockyard.bench"] === tag);
    if (!measured) return;
    times.agentcfg.push(exited - t0);
    agentcfgRemoved.push(removed - t0);
    phases.agentcfg.push({ ...containerSteps(engine, t0, (e) => e.attrs["dockyard.bench"] === tag), exited: exited - t0, removed: removed - t0 });
  };

  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const measured = i >= WARMUP;
    // Rotate the order too, so no kind always follows the same one.
    const order = [stage, cli, api, agentcfg];
    for (let k = 0; k < i % order.length; k++) order.push(order.shift()!);
    for (const f of order) await f(measured);
  }

  if (process.env.BENCH_PHASES) {
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
        console.error(`  ${s.padEnd(20)} at ${String(round(quantile(at, 0.5))).padStart(7)}   step ${prev} -> ${s}: ${round(quantile(step, 0.5))}`);
        prev = s;
      }
    }
    console.error("stage cleanup after its end (container and volume gone), p50 ms", round(quantile(cleanup, 0.5)));
    // The farm's own time on the stage's path: before its container exists, and from its exit to the watcher.
    const own = phases.stage.map((p, i) => ({ head: p.create! - (phases.agentcfg[i]?.create ?? NaN), tail: p.observed! - p.die! }));
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
    console.error("samples ms", JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v.map(round)]))));
  }

  agent.child.kill("SIGTERM");
  await agent.exited;
  engine.close();
  await farm.stop();

  const stageP50 = quantile(times.stage, 0.5);
  const cliP50 = quantile(times.cli, 0.5);
  console.log(
    JSON.stringify({
      bench: "container",
      stage_p50_ms: round(stageP50),
      raw_docker_run_p50_ms: round(cliP50),
      overhead_ratio: Math.round((stageP50 / cliP50) * 100) / 100,
      stage_p90_ms: round(quantile(times.stage, 0.9)),
      raw_docker_run_p90_ms: round(quantile(times.cli, 0.9)),
      dockerode_p50_ms: round(quantile(times.api, 0.5)),
      dockerode_p90_ms: round(quantile(times.api, 0.9)),
      // Per round (the four samples taken back to back): median of the stage's time over each reference's.
      paired_ratio_cli:
        Math.round(
          quantile(
            times.stage.map((x, i) => x / times.cli[i]!),
            0.5,
          ) * 100,
        ) / 100,
      paired_ratio_agent_config:
        Math.round(
          quantile(
            times.stage.map((x, i) => x / times.agentcfg[i]!),
            0.5,
          ) * 100,
        ) / 100,
      overhead_vs_dockerode: Math.round((stageP50 / quantile(times.api, 0.5)) * 100) / 100,
      // The executor's own container config through dockerode, to its exit (as the stage's end) and to its removal.
      agent_config_p50_ms: round(quantile(times.agentcfg, 0.5)),
      agent_config_removed_p50_ms: round(quantile(agentcfgRemoved, 0.5)),
      overhead_vs_agent_config: Math.round((stageP50 / quantile(times.agentcfg, 0.5)) * 100) / 100,
      cleanup_after_end_p50_ms: round(quantile(cleanup, 0.5)),
      samples: times.stage.length,
      runs_failed: failed,
    }),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
