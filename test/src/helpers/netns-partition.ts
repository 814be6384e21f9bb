// A partitioned agent, on a real network link, shared by the partition tests and
// `npm run bench -- fences`: the agent running a stage of `PARTITION_STEPS` half-second
// steps lives in its own network namespace (see netns.ts) and is cut off for `cutMs`
// either with its veth down or with an iptables DROP in its namespace; the other agent
// (root namespace) is where the retry can go. Everything the case made (farm, processes,
// namespace, veths, rules) is gone when it returns or throws.
import { setTimeout as cutLasts } from "node:timers/promises";
import type Docker from "dockerode";
import { readFileSync } from "node:fs";
import { leftovers, NetnsHost } from "./netns";
import { netnsFarm, spawnNamespacedAgent } from "./netns-agent";
import { runCopyScenario, type CopyScenarioResult } from "./copy-scenario";
import { removeRunLeftovers, testDocker } from "./docker";

export const PARTITION_STEPS = 60;
const STEP_MS = 500;

export type Cut = "link-down" | "drop";

export interface PartitionResult extends CopyScenarioResult {
  cutAgentLog: string;
  /** Our namespace and root-side veth were there while the case ran (the leftover check's control). */
  presentWhileUp: string[];
  host: NetnsHost;
}

export interface PartitionOptions {
  cut: Cut;
  /** The cut agent's fence: "off" is the positive control (test-only DOCKYARD_AGENT_FENCE=off). */
  fence: "on" | "off";
  /** Gets the namespace as soon as it exists, for an `after` hook's check. */
  hosts?: NetnsHost[];
  /** How long the cut lasts (default 30 s). */
  cutMs?: number;
  /** Both agents' executor (default shell; docker stages are busybox containers). */
  executor?: "shell" | "docker";
  /** Half-second steps of the stage (default PARTITION_STEPS). */
  steps?: number;
  /** Server env (timings; the test farms' OUTAGE_TIMINGS by default). */
  env?: Record<string, string>;
}

/** One cut; see the file comment. */
export async function partitionAgent(opts: PartitionOptions): Promise<PartitionResult> {
  const { cut, fence, hosts = [], cutMs = 30_000, executor = "shell", steps = PARTITION_STEPS } = opts;
  const host = NetnsHost.create();
  hosts.push(host);
  const farm = netnsFarm([host], { env: opts.env });
  const docker = executor === "docker" ? await testDocker() : undefined;
  let runId: string | undefined;
  try {
    await farm.start();
    spawnNamespacedAgent(farm, host, "cut", {
      executor,
      labels: { role: "sh" },
      capacity: 1,
      env: { DOCKYARD_AGENT_FENCE: fence },
    });
    await farm.waitAgentsOnline(1);
    const r = await runCopyScenario(farm, {
      stages: ["s"],
      steps,
      stepMs: STEP_MS,
      // Where the retry can go, started only now so that attempt 1 lands on the agent to cut. The cut
      // begins at once, not after its boot (20 s and more on a busy machine): the retry waits for it anyway.
      whenRunning: async (id) => {
        runId = id;
        farm.spawnAgent("other", { executor, labels: { role: "sh" }, capacity: 1 });
      },
      disrupt: async () => {
        if (cut === "link-down") host.linkDown();
        else host.dropPackets();
        try {
          await cutLasts(cutMs);
        } finally {
          host.restore();
        }
      },
      endTimeoutMs: 150_000,
      docker,
    });
    const cutAgentLog = readFileSync(farm.agents.find((a) => a.name === "cut")!.logFile, "utf8");
    return { ...r, cutAgentLog, presentWhileUp: leftovers([host]), host };
  } finally {
    await farm.stop();
    host.remove();
    if (docker && runId) await removeRunLeftovers(docker, runId);
  }
}
