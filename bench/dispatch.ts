// npm run bench -- dispatch
// A local farm (server in this process, two agent processes with the shell
// executor, real Postgres and NATS) measures:
//  - latency: submit of a one-stage `echo ok` pipeline -> that stage's first
//    log byte arriving at the server (200 samples after 20 warm-up ones, one at
//    a time). The server stamps each event with the time it handled the report
//    (Date.now(), whole milliseconds). Also reported (visible_*): until that
//    chunk, persisted and published, reaches a watcher on NATS. Both figures
//    are read on that one clock (Date.now() here too): performance.timeOrigin +
//    performance.now() drifts away from Date.now() on our VMs, by tens of ms,
//    which once made the first figure larger than the second. Both ends are
//    floored to the ms, so each figure adds 1 ms and is an upper bound;
//  - throughput: 1,000 no-op stages across 20 pipelines submitted at once,
//    end to end until every run has ended.
// Prints one JSON line last. BENCH_PHASES=1 also prints where the latency
// goes (submit answered, stage running, first log) and the server's event
// loop delay; BENCH_SAMPLES and BENCH_AGENT_CAPACITY change the sizes.
import { connect } from "@nats-io/transport-node";
import { FarmSealer, fromBinary, RunEventSchema } from "@dockyard/proto";
import { readdirSync, readFileSync } from "node:fs";
import { startFarm, waitFor, NATS_URL } from "@dockyard/test";

/** CPU seconds so far per process name (own + reaped children), from /proc: BENCH_PHASES only. */
function cpuByProcess(): Map<string, number> {
  const tick = 100; // USER_HZ on Linux
  const out = new Map<string, number>();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const own = (Number(f[11]) + Number(f[12])) / tick;
      const children = (Number(f[13]) + Number(f[14])) / tick;
      const name =
        pid === String(process.pid)
          ? "server"
          : comm === "node"
            ? "agents"
            : comm.startsWith("postgres")
              ? "postgres"
              : comm;
      out.set(name, (out.get(name) ?? 0) + own);
      // Exited children: the agents' are the stages' shells; the server's are the agents.
      if (name === "agents") out.set("stage processes", (out.get("stage processes") ?? 0) + children);
      else if (name !== "server") out.set(name, (out.get(name) ?? 0) + children);
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

const LATENCY_SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);
const WARMUP = 20;
const PIPELINES = 20;
const STAGES_PER_PIPELINE = 50;
const AGENT_CAPACITY = Number(process.env.BENCH_AGENT_CAPACITY ?? 16);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const round = (x: number) => Math.round(x * 100) / 100;

async function main() {
  // The test farm, with the server's production timings instead of the tests' short ones.
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
  const { client, prefix } = farm;
  const agents = ["bench-a", "bench-b"].map((name) =>
    farm.spawnAgent({
      name,
      executor: "shell",
      capacity: AGENT_CAPACITY,
      logLevel: process.env.BENCH_AGENT_LOG ?? "warn",
    }),
  );
  const nc = await connect({ servers: NATS_URL });
  const firstLog = new Map<string, number>();
  /** When the server handled the first log chunk (Date.now() there, ms since the epoch). */
  const firstLogAt = new Map<string, number>();
  /** When that chunk reached this watcher, on the same clock (Date.now()). */
  const firstLogSeenAt = new Map<string, number>();
  const phases = new Map<string, number>();
  const phaseSamples: Record<string, number[]> = { submit: [], running: [], log: [] };
  const ended = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  // Run events are sealed with the farm key; the bench holds it as a replica would.
  const sealer = new FarmSealer(farm.server.pki.farmKey);
  nc.subscribe(`${prefix}.run.*.events`, {
    callback: (_err, msg) => {
      const plain = sealer.open(msg.subject, msg.data);
      if (!plain) return;
      const e = fromBinary(RunEventSchema, plain);
      const now = performance.now();
      if (e.body.case === "log" && !firstLog.has(e.runId)) {
        firstLog.set(e.runId, now);
        firstLogSeenAt.set(e.runId, Date.now());
        firstLogAt.set(e.runId, Number(e.atMs));
      }
      if (process.env.BENCH_PHASES && e.body.case === "stage") phases.set(`${e.runId}/${e.body.value.state}`, now);
      if (e.body.case === "run" && ["succeeded", "failed", "errored", "canceled"].includes(e.body.value.state)) {
        ended.set(e.runId, now);
        waiters.get(e.runId)?.();
      }
    },
  });
  await waitFor(async () => (await client.listAgents({})).agents.filter((a) => a.state === "online").length === 2, {
    message: "both bench agents online",
    timeoutMs: 30_000,
  });

  const one = Buffer.from("name: latency\nstages:\n  hello: { executor: shell, command: 'echo ok' }\n");
  const latencies: number[] = [];
  const visible: number[] = [];
  for (let i = 0; i < WARMUP + LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    const wallT0 = Date.now();
    const { run } = await client.submitRun({ pipelineYaml: one, source: "bench" });
    const id = run!.id;
    const tSubmitted = performance.now();
    if (!ended.has(id)) await new Promise<void>((r) => waiters.set(id, r));
    if (i >= WARMUP) {
      // One clock (Date.now()) for both figures, so the first can never exceed the second; both
      // ends are floored to the ms, hence + 1 (an upper bound).
      latencies.push(firstLogAt.get(id)! + 1 - wallT0);
      visible.push(firstLogSeenAt.get(id)! + 1 - wallT0);
    }
    if (process.env.BENCH_PHASES && i >= WARMUP) {
      phaseSamples.submit!.push(tSubmitted - t0);
      phaseSamples.running!.push(phases.get(`${id}/running`)! - t0);
      phaseSamples.log!.push(firstLog.get(id)! - t0);
    }
  }

  if (process.env.BENCH_PHASES) {
    // Server-side timestamps of the latency runs: created -> queued -> assigned -> started.
    const steps = await farm.pg.query(`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.queued_at - r.created_at) * 1000) AS queued_ms,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.assigned_at - s.queued_at) * 1000) AS assigned_ms,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.started_at - a.assigned_at) * 1000) AS started_ms
      FROM attempts a JOIN stages s ON s.id = a.stage_id JOIN runs r ON r.id = a.run_id WHERE r.name = 'latency'`);
    console.error("latency runs, server clock, p50 of each step", JSON.stringify(steps.rows[0]));
    for (const [k, v] of Object.entries(phaseSamples))
      console.error(k, "p50", round(quantile(v, 0.5)), "p99", round(quantile(v, 0.99)));
    const slowest = phaseSamples
      .log!.map((l, i) => [round(phaseSamples.submit![i]!), round(phaseSamples.running![i]!), round(l)])
      .sort((a, b) => b[2]! - a[2]!)
      .slice(0, 6);
    console.error("slowest samples [submit, running, log] ms", JSON.stringify(slowest));
  }
  if (process.env.BENCH_ONLY === "latency") {
    // For profiling the latency path alone.
    console.log(
      JSON.stringify({
        bench: "dispatch",
        p50_ms: round(quantile(latencies, 0.5)),
        p99_ms: round(quantile(latencies, 0.99)),
        visible_p50_ms: round(quantile(visible, 0.5)),
        visible_p99_ms: round(quantile(visible, 0.99)),
      }),
    );
    for (const a of agents) a.child.kill("SIGTERM");
    await Promise.all(agents.map((a) => a.exited));
    await nc.drain();
    await farm.stop();
    return;
  }
  const stages = Array.from(
    { length: STAGES_PER_PIPELINE },
    (_, i) => `  s${i}: { executor: shell, command: 'true' }`,
  ).join("\n");
  const { monitorEventLoopDelay } = await import("node:perf_hooks");
  const loop = monitorEventLoopDelay({ resolution: 5 });
  if (process.env.BENCH_PHASES) loop.enable();
  const cpuBefore = process.env.BENCH_PHASES ? cpuByProcess() : new Map<string, number>();
  const t0 = performance.now();
  const ids = await Promise.all(
    Array.from({ length: PIPELINES }, (_, i) =>
      client
        .submitRun({ pipelineYaml: Buffer.from(`name: tput-${i}\nstages:\n${stages}\n`), source: "bench" })
        .then((r) => r.run!.id),
    ),
  );
  await Promise.all(ids.map((id) => (ended.has(id) ? undefined : new Promise<void>((r) => waiters.set(id, r)))));
  if (process.env.BENCH_PHASES) {
    const after = cpuByProcess();
    const perStage = [...after]
      .map(([k, v]) => [k, round(((v - (cpuBefore.get(k) ?? 0)) * 1000) / (PIPELINES * STAGES_PER_PIPELINE))] as const)
      .filter(([, ms]) => ms >= 0.05)
      .sort((a, b) => b[1] - a[1]);
    console.error("cpu ms per stage (own + reaped children)", JSON.stringify(Object.fromEntries(perStage)));
  }
  if (process.env.BENCH_PHASES)
    console.error(
      "server event loop delay ms p50",
      loop.percentile(50) / 1e6,
      "p99",
      loop.percentile(99) / 1e6,
      "max",
      loop.max / 1e6,
    );
  const elapsed = (Math.max(...ids.map((id) => ended.get(id)!)) - t0) / 1000;
  const failed = (await Promise.all(ids.map((runId) => client.getRun({ runId })))).filter(
    (r) => r.run!.state !== "succeeded",
  ).length;

  if (process.env.BENCH_PHASES) {
    // Where the slowest stages of the throughput phase spent their time.
    const slow = await farm.pg.query(`
      SELECT s.name, r.name AS run, a.state, a.reason,
        round(extract(epoch FROM a.assigned_at - s.queued_at) * 1000) AS queued_ms,
        round(extract(epoch FROM a.started_at - a.assigned_at) * 1000) AS start_ms,
        round(extract(epoch FROM a.finished_at - a.started_at) * 1000) AS run_ms
      FROM attempts a JOIN stages s ON s.id = a.stage_id JOIN runs r ON r.id = a.run_id
      WHERE r.name LIKE 'tput-%' ORDER BY a.finished_at - a.assigned_at DESC NULLS FIRST LIMIT 5`);
    console.error("slowest attempts", JSON.stringify(slow.rows));
    const lost = await farm.pg.query("SELECT id FROM attempts WHERE state <> 'succeeded'");
    if (lost.rowCount)
      console.error(
        "not succeeded",
        lost.rows.map((r) => r.id).join(" "),
        "agent logs",
        agents.map((a) => a.logFile).join(" "),
      );
  }
  for (const a of agents) a.child.kill("SIGTERM");
  await Promise.all(agents.map((a) => a.exited));
  await nc.drain();
  await farm.stop();

  const result = {
    bench: "dispatch",
    p50_ms: round(quantile(latencies, 0.5)),
    p99_ms: round(quantile(latencies, 0.99)),
    stages_per_s: round((PIPELINES * STAGES_PER_PIPELINE) / elapsed),
    samples: latencies.length,
    visible_p50_ms: round(quantile(visible, 0.5)),
    visible_p99_ms: round(quantile(visible, 0.99)),
    throughput_runs_failed: failed,
    agent_capacity: AGENT_CAPACITY,
  };
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
