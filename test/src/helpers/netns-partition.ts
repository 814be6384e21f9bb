// A partitioned agent, on a real network link, shared by the partition tests and
// `npm run bench -- fences`: a farm of hosts (netns-farm.ts) with one agent per host, each
// host a network namespace whose one link goes to the control host. The agent running a
// stage of `PARTITION_STEPS` half-second steps ("cut") is cut off for `cutMs` either with
// its veth down or with an iptables DROP in its namespace; the agent of the other host
// ("other") is where the retry can go. Docker hosts run their stages on engines of their
// own, in their namespaces. Everything the case made (farm, processes, engines, namespaces,
// veths, rules) is gone when it returns or throws.
import { setTimeout as cutLasts } from "node:timers/promises";
import { readFileSync } from "node:fs";
import type { NetnsHost } from "./netns";
import { NetnsFarm } from "./netns-farm";
import { runCopyScenario, type CopyScenarioResult } from "./copy-scenario";

export const PARTITION_STEPS = 60;
const STEP_MS = 500;

export type Cut = "link-down" | "drop";

export interface PartitionResult extends CopyScenarioResult {
  cutAgentLog: string;
  /** Our namespaces and root-side veths were there while the case ran (the leftover check's control). */
  presentWhileUp: string[];
  /** The cut host's namespace, then the other's. */
  hosts: NetnsHost[];
  /** Agent name -> the namespace its process ran in (netns-farm.ts agentNamespaces). */
  agentNamespaces: Record<string, string>;
  /** Docker hosts: host name -> the attempts whose container its own engine started. */
  engineAttempts: Record<string, string[]>;
}

export interface PartitionOptions {
  cut: Cut;
  /** The cut agent's fence: "off" is the positive control (test-only DOCKYARD_AGENT_FENCE=off). */
  fence: "on" | "off";
  /** Gets the farm as soon as it exists, for an `after` hook that stops it and checks for leftovers. */
  farms?: NetnsFarm[];
  /** How long the cut lasts (default 30 s). */
  cutMs?: number;
  /** Both hosts' executor (default shell; docker stages are busybox containers, each host on its own engine). */
  executor?: "shell" | "docker";
  /** Half-second steps of the stage (default PARTITION_STEPS). */
  steps?: number;
  /** Server env (timings; the test farms' OUTAGE_TIMINGS by default). */
  env?: Record<string, string>;
}

/** One cut; see the file comment. */
export async function partitionAgent(opts: PartitionOptions): Promise<PartitionResult> {
  const { cut, fence, farms, cutMs = 30_000, executor = "shell", steps = PARTITION_STEPS } = opts;
  const labels = { role: "sh" };
  const farm = new NetnsFarm(
    [
      { name: "cut", executor, labels, capacity: 1, env: { DOCKYARD_AGENT_FENCE: fence } },
      { name: "other", executor, labels, capacity: 1 },
    ],
    { env: opts.env, registry: farms },
  );
  const cutHost = farm.host("cut").ns;
  const since = Math.floor(Date.now() / 1000) - 1;
  try {
    await farm.start();
    // Both agents boot together (on a busy machine a boot takes many seconds); "other" is drained
    // until the stage runs on "cut", so attempt 1 lands there and the retry can go to "other".
    await farm.spawnAll();
    await farm.drain("other", true);
    const r = await runCopyScenario(farm.control, {
      stages: ["s"],
      steps,
      stepMs: STEP_MS,
      // Where the retry can go, open for work only now that attempt 1 runs on the agent to cut.
      whenRunning: () => farm.drain("other", false),
      disrupt: async () => {
        if (cut === "link-down") cutHost.linkDown();
        else cutHost.dropPackets();
        try {
          await cutLasts(cutMs);
        } finally {
          cutHost.restore();
        }
      },
      endTimeoutMs: 150_000,
      docker: executor === "docker" ? farm.engines() : undefined,
    });
    // Read now, with both agents long up (right after a spawn, `ip netns exec` may not have entered the namespace yet).
    const agentNamespaces = farm.agentNamespaces();
    const engineAttempts: Record<string, string[]> = {};
    for (const h of farm.hosts)
      if (h.engine)
        engineAttempts[h.spec.name] = [
          ...new Set(
            (await h.engine.runEvents(r.runId, since)).filter((e) => e.status === "start").map((e) => e.attempt),
          ),
        ];
    const cutAgentLog = readFileSync(farm.control.agents.find((a) => a.name === "cut")!.logFile, "utf8");
    return {
      ...r,
      cutAgentLog,
      presentWhileUp: farm.leftovers(),
      hosts: farm.hosts.map((h) => h.ns),
      agentNamespaces,
      engineAttempts,
    };
  } finally {
    await farm.stop();
  }
}
