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
// finished), all on this machine's clock (bench/lib/container-phases.ts). BENCH_SAMPLES,
// BENCH_WARMUP change the sizes (BENCH_SAMPLES=3 BENCH_WARMUP=1 for a quick check).
import { execFile } from "node:child_process";
import { dockerFromEnv } from "@dockyard/agent";
import { startFarm, waitFor, DOCKER_HOST } from "@dockyard/test";
import {
  followEngine,
  containerSteps,
  printPhases,
  type Kind,
  type Phases,
  type StageRun,
} from "./lib/container-phases";
import { now, quantile, round } from "./lib/stats";

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const IMAGE = "dockyard/busybox:1";
const TERMINAL = new Set(["succeeded", "failed", "errored", "canceled"]);

type Docker = ReturnType<typeof dockerFromEnv>;

function runCli(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("docker", ["-H", DOCKER_HOST, "run", "--rm", "--network", "none", IMAGE, "true"], (err) =>
      err ? reject(err) : resolve(),
    );
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
    Env: [
      "DOCKYARD=true",
      `DOCKYARD_RUN_ID=${tag}`,
      "DOCKYARD_STAGE=s",
      "DOCKYARD_ATTEMPT=1",
      `DOCKYARD_ATTEMPT_ID=${tag}`,
    ],
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
          VolumeOptions: {
            NoCopy: true,
            Labels: { "dockyard.bench": tag },
            DriverConfig: { Name: "local", Options: {} },
          },
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
  const agent = farm.spawnAgent({
    name: "bench-docker",
    executor: "docker",
    capacity: 2,
    logLevel: process.env.BENCH_AGENT_LOG ?? "warn",
  });
  // On a failure main() exits without farm.stop(): take the agent process down with us.
  process.on("exit", () => agent.child.kill("SIGKILL"));
  await waitFor(async () => (await client.listAgents({})).agents.some((a) => a.state === "online"), {
    message: "the docker agent online",
    timeoutMs: 30_000,
  });

  const yaml = Buffer.from(`name: container\nstages:\n  s: { image: ${IMAGE}, command: 'true' }\n`);
  const times: Record<Kind, number[]> = { stage: [], cli: [], api: [], agentcfg: [] };
  const phases: Phases = { stage: [], cli: [], api: [], agentcfg: [] };
  const agentcfgRemoved: number[] = [];
  const runIds: StageRun[] = [];
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
    const gone = await engine.until(
      (e) => e.type === "container" && e.action === "destroy" && e.attrs["dockyard.run"] === id,
    );
    const volGone = await engine.until(
      (e) => e.type === "volume" && e.action === "destroy" && e.id === `dockyard-ws-${id}`,
      5_000,
    );
    if (!measured) return;
    times.stage.push(observed - t0);
    runIds.push({ id, t0, submitted, observed });
    cleanup.push(Math.max(gone?.at ?? NaN, volGone?.at ?? NaN) - observed);
    phases.stage.push({
      submit: submitted - t0,
      ...containerSteps(engine, t0, (e) => e.attrs["dockyard.run"] === id),
      observed: observed - t0,
    });
  };
  const cli = async (measured: boolean) => {
    const t0 = now();
    const seen = engine.events.length;
    await runCli();
    const t1 = now();
    // The CLI's container is the one without labels created after t0 (tests may share the engine).
    const created = engine.events
      .slice(seen)
      .find(
        (e) =>
          e.type === "container" &&
          e.action === "create" &&
          e.attrs.image === IMAGE &&
          !Object.keys(e.attrs).some((k) => k.startsWith("dockyard.")),
      );
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
    phases.agentcfg.push({
      ...containerSteps(engine, t0, (e) => e.attrs["dockyard.bench"] === tag),
      exited: exited - t0,
      removed: removed - t0,
    });
  };

  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const measured = i >= WARMUP;
    // Rotate the order too, so no kind always follows the same one.
    const order = [stage, cli, api, agentcfg];
    for (let k = 0; k < i % order.length; k++) order.push(order.shift()!);
    for (const f of order) await f(measured);
  }

  if (process.env.BENCH_PHASES) await printPhases(farm, { runIds, phases, times, cleanup });

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
