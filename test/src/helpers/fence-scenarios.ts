// The freeze and partition cases of issue 13, shared by their tests and by
// `npm run bench -- fences`: each runs shell stages that stamp every step into a marker
// file per attempt, samples every live copy every 0.25 s (sampler.ts), breaks something
// while they run, and reports what each stage executed and whether copies overlapped.
import { setTimeout as lasts } from "node:timers/promises";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { OutageFarm } from "./outage-farm";
import { waitFor } from "./wait";
import { CopySampler, markedSteps, markerDir, type SamplerReport } from "./sampler";
import { Partition, tcpProxy, VethNamespace } from "./partition";

export const STEP_MS = 500;

export interface ScenarioResult {
  /** Stage name -> its attempts in order (state, agent name, reason). */
  attempts: Record<string, { state: string; agent: string; reason: string | null }[]>;
  /** Marker file (`stage.attempt`) -> the steps it recorded. */
  marks: Record<string, string[]>;
  sampler: SamplerReport;
  /** Steps each stage has. */
  steps: number;
  serverLogs: string[];
  agentLogs: Record<string, string>;
}

/** Timings of an OutageFarm, or the server's defaults (`npm run bench -- fences`). */
export const DEFAULT_TIMINGS = {
  DOCKYARD_HEARTBEAT_INTERVAL_MS: "3000",
  DOCKYARD_AGENT_LOST_TIMEOUT_MS: "15000",
  DOCKYARD_LEASE_TTL_MS: "15000",
  DOCKYARD_AGENT_POLL_INTERVAL_MS: "10000",
  DOCKYARD_SWEEP_INTERVAL_MS: "1000",
  DOCKYARD_SCHEDULER_INTERVAL_MS: "500",
};

function pipeline(name: string, stages: string[], steps: number, markDir: string): string {
  return [
    `name: ${name}`,
    `env: { MARK: "${markDir}" }`,
    "stages:",
    ...stages.map((s) => `  ${s}: { executor: shell, agent: { role: sh }, command: '${markedSteps(steps, STEP_MS)}' }`),
  ].join("\n");
}

/** Wait for the run to end, then read what happened. */
async function collect(
  farm: OutageFarm,
  runId: string,
  sampler: CopySampler,
  marks: ReturnType<typeof markerDir>,
  steps: number,
): Promise<ScenarioResult> {
  await waitFor(
    async () => {
      const { state } = (await farm.pg.query<{ state: string }>("SELECT state FROM runs WHERE id = $1", [runId]))
        .rows[0]!;
      return ["succeeded", "failed", "errored", "canceled"].includes(state);
    },
    { message: `run ${runId} to end`, timeoutMs: 180_000, intervalMs: 250 },
  );
  const rows = (
    await farm.pg.query<{ name: string; state: string; agent: string; reason: string | null }>(
      `SELECT s.name, a.state, g.name AS agent, a.reason FROM attempts a JOIN stages s ON s.id = a.stage_id JOIN agents g ON g.id = a.agent_id
       WHERE a.run_id = $1 ORDER BY s.name, a.number`,
      [runId],
    )
  ).rows;
  const attempts: ScenarioResult["attempts"] = {};
  for (const r of rows) (attempts[r.name] ??= []).push({ state: r.state, agent: r.agent, reason: r.reason });
  return {
    attempts,
    marks: marks.read(),
    sampler: sampler.stop(),
    steps,
    serverLogs: farm.servers.map((s) => readFileSync(s.logFile, "utf8")),
    agentLogs: Object.fromEntries(farm.agents.map((a) => [a.name, readFileSync(a.logFile, "utf8")])),
  };
}

async function waitRunning(farm: OutageFarm, runId: string, n: number): Promise<void> {
  await waitFor(
    async () =>
      (
        await farm.pg.query(
          "SELECT count(*)::int AS n FROM attempts WHERE run_id = $1 AND state = 'running' AND log_seq >= 1",
          [runId],
        )
      ).rows[0].n === n,
    { message: `${n} stages running`, timeoutMs: 60_000 },
  );
}

/**
 * SIGSTOP of server `frozen` (of `replicas`) for `freezeMs` while three stages run on one shell
 * agent that knows every replica, replica 0 first (so it streams to replica 0).
 */
export async function freezeServer(opts: {
  freezeMs: number;
  replicas?: number;
  frozen?: number;
  env?: Record<string, string>;
}): Promise<ScenarioResult> {
  const farm = new OutageFarm({ replicas: opts.replicas ?? 1, env: opts.env });
  const marks = markerDir();
  let sampler: CopySampler | null = null;
  try {
    await farm.start();
    farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" }, capacity: 4 });
    await farm.waitAgentsOnline(1);
    // Each stage outlives the freeze by about 10 s.
    const steps = Math.ceil((opts.freezeMs + 10_000) / STEP_MS);
    const yaml = pipeline("freeze", ["a", "b", "c"], steps, marks.dir);
    const runId = (
      await farm.client.submitRun({ pipelineYaml: Buffer.from(yaml), source: "test:freeze.yml" }, { timeoutMs: 10_000 })
    ).run!.id;
    sampler = new CopySampler(runId).start();
    await waitRunning(farm, runId, 3);
    const server = farm.servers[opts.frozen ?? 0]!.child!;
    server.kill("SIGSTOP");
    try {
      await lasts(opts.freezeMs);
    } finally {
      server.kill("SIGCONT");
    }
    return await collect(farm, runId, sampler, marks, steps);
  } finally {
    sampler?.stop();
    for (const s of farm.servers) s.child?.kill("SIGCONT");
    await farm.stop();
    marks.remove();
  }
}

/**
 * An agent cut off from a live server: two replicas; agent `cut` talks to replica 0 only and
 * to NATS through its own proxy; once its stage runs, agent `other` joins through replica 1,
 * and the cut agent's links go for `cutMs`: `iptables` drops every packet to and from replica
 * 0's port and the proxy's; `veth` runs the agent in its own network namespace and takes the
 * host side of its veth pair down.
 */
export async function cutAgentOff(opts: {
  fence: "on" | "off";
  cutMs: number;
  how?: "iptables" | "veth";
  env?: Record<string, string>;
}): Promise<ScenarioResult> {
  const ns = opts.how === "veth" ? new VethNamespace(randomBytes(4).toString("hex")) : null;
  // The serving certificate must name the address the agent in the namespace dials.
  const farm = new OutageFarm({
    replicas: 2,
    env: { ...opts.env, ...(ns && { DOCKYARD_TLS_SANS: ns.hostIp }) },
    listenAll: ns !== null,
  });
  const marks = markerDir();
  const partition = new Partition(farm.prefix);
  let proxy: Awaited<ReturnType<typeof tcpProxy>> | null = null;
  let sampler: CopySampler | null = null;
  try {
    await farm.start();
    const host = ns?.hostIp ?? "127.0.0.1";
    proxy = await tcpProxy(farm.natsPort, host);
    farm.spawnAgent("cut", {
      executor: "shell",
      labels: { role: "sh" },
      servers: [0],
      ...(ns && { netns: ns.name, serverUrls: [`${ns.hostIp}:${farm.servers[0]!.grpc.split(":")[1]}`] }),
      natsUrl: `nats://${host}:${proxy.port}`,
      env: { DOCKYARD_AGENT_FENCE: opts.fence },
    });
    await farm.waitAgentsOnline(1);
    // Long enough for the other agent to start, the cut, and the cut copy's fence.
    const steps = Math.ceil((opts.cutMs + 30_000) / STEP_MS);
    const runId = (
      await farm.client.submitRun(
        { pipelineYaml: Buffer.from(pipeline("cut", ["s"], steps, marks.dir)), source: "test:cut.yml" },
        { timeoutMs: 10_000 },
      )
    ).run!.id;
    sampler = new CopySampler(runId).start();
    await waitRunning(farm, runId, 1);
    farm.spawnAgent("other", { executor: "shell", labels: { role: "sh" }, servers: [1] });
    await farm.waitAgentsOnline(2);
    if (ns) ns.down();
    else {
      partition.drop(Number(farm.servers[0]!.grpc.split(":")[1]));
      partition.drop(proxy.port);
    }
    try {
      await lasts(opts.cutMs);
    } finally {
      ns?.up();
      partition.heal();
    }
    return await collect(farm, runId, sampler, marks, steps);
  } finally {
    partition.heal();
    sampler?.stop();
    proxy?.close();
    await farm.stop();
    ns?.remove();
    marks.remove();
  }
}
