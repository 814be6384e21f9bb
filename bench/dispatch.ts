// npm run bench -- dispatch
// A local farm (server in this process, two agent processes with the shell
// executor, real Postgres and NATS) measures:
//  - latency: submit of a one-stage `echo ok` pipeline -> that stage's first
//    log chunk persisted and published by the server (200 samples after 20
//    warm-up ones, one at a time);
//  - throughput: 1,000 no-op stages across 20 pipelines submitted at once,
//    end to end until every run has ended.
// Prints one JSON line last.
import os from "node:os";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import pino from "pino";
import { Registry } from "prom-client";
import { createClient, fromBinary, RunService, RunEventSchema } from "@dockyard/proto";
import { startServer, loadConfig } from "@dockyard/control-plane";
import { createTestDatabase, waitFor, NATS_URL, REPO_ROOT } from "@dockyard/test";

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
  const database = await createTestDatabase();
  const prefix = `bench${randomBytes(3).toString("hex")}`;
  const joinToken = `dyj_bench_${randomBytes(12).toString("hex")}`;
  const apiToken = `dya_bench_${randomBytes(12).toString("hex")}`;
  const config = loadConfig({
    DATABASE_URL: database.url, DOCKYARD_NATS_URL: NATS_URL, DOCKYARD_NATS_PREFIX: prefix,
    DOCKYARD_GRPC_LISTEN: "127.0.0.1:0", DOCKYARD_HTTP_LISTEN: "127.0.0.1:0",
    DOCKYARD_JOIN_TOKEN: joinToken, DOCKYARD_API_TOKEN: apiToken, DOCKYARD_LOG_LEVEL: "warn",
  });
  const server = await startServer(config, { log: pino({ level: "warn" }), registry: new Registry() });
  const agents: ChildProcess[] = [];
  for (const name of ["bench-a", "bench-b"]) {
    agents.push(spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "test/src/bin/agent.ts")], {
      cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env, DOCKYARD_SERVER_URL: server.grpcAddress, DOCKYARD_NATS_URL: NATS_URL, DOCKYARD_NATS_PREFIX: prefix,
        DOCKYARD_JOIN_TOKEN: joinToken, DOCKYARD_AGENT_NAME: name, DOCKYARD_AGENT_CAPACITY: String(AGENT_CAPACITY),
        DOCKYARD_AGENT_EXECUTOR: "shell", DOCKYARD_LOG_LEVEL: "warn",
        DOCKYARD_AGENT_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), `dockyard-${name}-`)),
      },
    }));
  }
  const client = createClient(RunService, server.grpcAddress, {
    metadata: () => {
      const md = new grpc.Metadata();
      md.set("authorization", `Bearer ${apiToken}`);
      return md;
    },
  });
  const nc = await connect({ servers: NATS_URL });
  const firstLog = new Map<string, number>();
  const phases = new Map<string, number>();
  const phaseSamples: Record<string, number[]> = { submit: [], assigned: [], running: [], log: [] };
  const ended = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  nc.subscribe(`${prefix}.run.*.events`, {
    callback: (_err, msg) => {
      const e = fromBinary(RunEventSchema, msg.data);
      const now = performance.now();
      if (e.body.case === "log" && !firstLog.has(e.runId)) firstLog.set(e.runId, now);
      if (process.env.BENCH_PHASES && e.body.case === "stage") phases.set(`${e.runId}/${e.body.value.state}`, now);
      if (e.body.case === "run" && ["succeeded", "failed", "errored", "canceled"].includes(e.body.value.state)) {
        ended.set(e.runId, now);
        waiters.get(e.runId)?.();
      }
    },
  });
  await waitFor(async () => (await client.listAgents({})).agents.filter((a) => a.state === "online").length === 2, {
    message: "both bench agents online", timeoutMs: 30_000,
  });

  const one = Buffer.from("name: latency\nstages:\n  hello: { executor: shell, command: 'echo ok' }\n");
  const latencies: number[] = [];
  for (let i = 0; i < WARMUP + LATENCY_SAMPLES; i++) {
    const t0 = performance.now();
    const { run } = await client.submitRun({ pipelineYaml: one, source: "bench" });
    const id = run!.id;
    const tSubmitted = performance.now();
    if (!ended.has(id)) await new Promise<void>((r) => waiters.set(id, r));
    if (i >= WARMUP) latencies.push(firstLog.get(id)! - t0);
    if (process.env.BENCH_PHASES && i >= WARMUP) {
      phaseSamples.submit!.push(tSubmitted - t0);
      phaseSamples.assigned!.push(phases.get(`${id}/assigned`)! - t0);
      phaseSamples.running!.push(phases.get(`${id}/running`)! - t0);
      phaseSamples.log!.push(firstLog.get(id)! - t0);
    }
  }

  if (process.env.BENCH_PHASES) {
    for (const [k, v] of Object.entries(phaseSamples)) console.error(k, "p50", round(quantile(v, 0.5)), "p99", round(quantile(v, 0.99)));
    if (process.env.BENCH_PHASES === "only") process.exit(0);
  }
  const stages = Array.from({ length: STAGES_PER_PIPELINE }, (_, i) => `  s${i}: { executor: shell, command: 'true' }`).join("\n");
  const { monitorEventLoopDelay } = await import("node:perf_hooks");
  const loop = monitorEventLoopDelay({ resolution: 5 });
  if (process.env.BENCH_PHASES) loop.enable();
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: PIPELINES }, (_, i) =>
    client.submitRun({ pipelineYaml: Buffer.from(`name: tput-${i}\nstages:\n${stages}\n`), source: "bench" }).then((r) => r.run!.id)));
  await Promise.all(ids.map((id) => (ended.has(id) ? undefined : new Promise<void>((r) => waiters.set(id, r)))));
  if (process.env.BENCH_PHASES) console.error("server event loop delay ms p50", loop.percentile(50) / 1e6, "p99", loop.percentile(99) / 1e6, "max", loop.max / 1e6);
  const elapsed = (Math.max(...ids.map((id) => ended.get(id)!)) - t0) / 1000;
  const failed = (await Promise.all(ids.map((runId) => client.getRun({ runId })))).filter((r) => r.run!.state !== "succeeded").length;

  for (const a of agents) a.kill("SIGTERM");
  await Promise.all(agents.map((a) => new Promise((r) => a.once("exit", r))));
  client.close();
  await nc.drain();
  await server.stop();
  if (process.env.BENCH_KEEP_DB) console.error("kept database", database.name);
  else await database.drop();

  const result = {
    bench: "dispatch",
    p50_ms: round(quantile(latencies, 0.5)),
    p99_ms: round(quantile(latencies, 0.99)),
    stages_per_s: round((PIPELINES * STAGES_PER_PIPELINE) / elapsed),
    samples: latencies.length,
    throughput_runs_failed: failed,
    agent_capacity: AGENT_CAPACITY,
  };
  console.log(JSON.stringify(result));
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
