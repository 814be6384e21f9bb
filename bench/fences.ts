// npm run bench -- fences
// Issue 13's cases with the default timings of the test farms (OUTAGE_TIMINGS),
// each observed by the copy sampler (every 0.25 s) and timed marker lines per attempt:
//  - server_freeze_reruns: SIGSTOP of the only server for 20 s while three stages run;
//    attempts beyond one per stage;
//  - replica_freeze_reruns: SIGSTOP for 45 s of the replica the agents stream to, the other
//    replica up; attempts beyond one per stage;
//  - partition_overlap_ms: the longest time the sampler saw two copies of the stage when its
//    agent (in its own network namespace) was cut off for 30 s, veth down and iptables DROP;
//  - partition_double_executions: stages the partitions executed to their end twice;
//  - fence_margin_ms: measured, the least over the partitions of the time from the cut-off
//    copy's stop to the retry's first line. The stop is bounded by its last marker line plus
//    one step (500 ms), so this is a lower bound. fence_margin_config_ms is the same margin
//    from the configuration: the server's earliest give-away (the lease TTL) minus the agent's
//    bound (the fence plus its kill budget), see @dockyard/proto fence.ts.
// Prints one JSON line per case, and the summary last.
import { setTimeout as holdFor } from "node:timers/promises";
import { defaultFenceMs, FENCE_KILL_BUDGET_MS } from "@dockyard/proto";
import { OUTAGE_TIMINGS, OutageFarm, partitionAgent, runCopyScenario, type Cut } from "@dockyard/test";

const FREEZE_SERVER_MS = 20_000;
const FREEZE_REPLICA_MS = 45_000;
const PARTITION_MS = 30_000;
const STEP_MS = 500;
const TTL_MS = Number(OUTAGE_TIMINGS.DOCKYARD_LEASE_TTL_MS);

/** SIGSTOP server `frozen` of a farm of `replicas` for `ms` while three stages run; attempts beyond one per stage. */
async function freeze(replicas: number, frozen: number, ms: number): Promise<number> {
  const farm = new OutageFarm({ replicas });
  try {
    await farm.start();
    farm.spawnAgent("sh", { executor: "shell", labels: { role: "sh" }, capacity: 4 });
    await farm.waitAgentsOnline(1);
    const r = await runCopyScenario(farm, {
      stages: ["a", "b", "c"],
      steps: Math.ceil((ms + 10_000) / STEP_MS), // each stage outlives the freeze by about 10 s
      stepMs: STEP_MS,
      disrupt: async () => {
        const server = farm.servers[frozen]!.child!;
        server.kill("SIGSTOP");
        try {
          await holdFor(ms);
        } finally {
          server.kill("SIGCONT");
        }
      },
      endTimeoutMs: ms + 120_000,
    });
    console.log(JSON.stringify({ case: `freeze server ${frozen} of ${replicas}`, ms, state: r.state, reruns: r.reruns, overlap_ms: r.sampler.overlapMs }));
    return r.reruns;
  } finally {
    for (const s of farm.servers) s.child?.kill("SIGCONT");
    await farm.stop();
  }
}

async function partition(cut: Cut) {
  const r = await partitionAgent({ cut, fence: "on", cutMs: PARTITION_MS });
  const gap = r.executions.gapsMs.s?.[0];
  const out = {
    overlapMs: r.sampler.overlapSamples > 0 ? r.sampler.overlapMs : 0,
    doubleExecutions: r.executions.doubleExecutions,
    // No retry (or no gap) measured is no margin shown.
    marginMs: gap === undefined ? Number.NEGATIVE_INFINITY : gap - STEP_MS,
  };
  console.log(
    JSON.stringify({
      case: `partition ${cut}`,
      ms: PARTITION_MS,
      state: r.state,
      attempts: r.attempts.map((a) => a.state),
      lines: r.executions.counts.s,
      ...out,
    }),
  );
  return out;
}

const serverReruns = await freeze(1, 0, FREEZE_SERVER_MS);
const replicaReruns = await freeze(2, 0, FREEZE_REPLICA_MS);
const cuts = [await partition("link-down"), await partition("drop")];
console.log(
  JSON.stringify({
    bench: "fences",
    server_freeze_reruns: serverReruns,
    replica_freeze_reruns: replicaReruns,
    partition_overlap_ms: Math.max(...cuts.map((c) => c.overlapMs)),
    partition_double_executions: cuts.reduce((n, c) => n + c.doubleExecutions, 0),
    fence_margin_ms: Math.min(...cuts.map((c) => c.marginMs)),
    fence_margin_config_ms: TTL_MS - defaultFenceMs(TTL_MS) - FENCE_KILL_BUDGET_MS,
  }),
);
process.exit(0);
