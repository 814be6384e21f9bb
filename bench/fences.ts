// npm run bench -- fences
// Issue 13's freeze and partition cases with the server's default timings (lease 15 s,
// fence 10.5 s, agent lost after 15 s), four farms at once, every live copy of a stage
// sampled every 0.25 s and every step stamped into a marker file per attempt:
//  - server_freeze_reruns: attempts beyond one per stage after SIGSTOP of the only server
//    for 20 s while three stages run;
//  - replica_freeze_reruns: the same with two replicas, the agents' one frozen for 45 s;
//  - partition_overlap_ms: the longest time two copies of the stage were alive at once while
//    its agent, in its own network namespace, was cut off for 30 s: once with its veth down,
//    once with an iptables DROP in its namespace (the other agent takes the retry);
//  - partition_double_executions: stages the partitions executed to their end twice;
//  - fence_margin_ms: the least, over both partitions, of the time from the cut-off copy last
//    seen alive to its retry first seen (sampler resolution 0.25 s); fence_margin_config_ms
//    is what the configuration promises: lease TTL - (fence + kill budget).
// Targets: every count and overlap 0, fence_margin_ms > 0. Prints one JSON line last.
import { defaultFenceMs, FENCE_KILL_BUDGET_MS } from "@dockyard/proto";
import { DEFAULT_TIMINGS, freezeServer, partitionAgent, type Cut, type ScenarioResult } from "@dockyard/test";

const TTL_MS = Number(DEFAULT_TIMINGS.DOCKYARD_LEASE_TTL_MS);
const reruns = (r: ScenarioResult) => Object.values(r.attempts).reduce((n, a) => n + Math.max(0, a.length - 1), 0);

async function partition(cut: Cut) {
  const r = await partitionAgent({ cut, fence: "on", cutMs: 30_000, env: DEFAULT_TIMINGS });
  const [old, retry] = r.attempts.map((a) => r.sampler.spans[a.id]);
  const out = {
    overlapMs: r.sampler.overlapSamples > 0 ? r.sampler.overlapMs : 0,
    doubleExecutions: r.executions.doubleExecutions,
    // No retry seen is no margin shown.
    marginMs: old && retry ? retry[0] - old[1] : Number.NEGATIVE_INFINITY,
  };
  console.log(JSON.stringify({ case: `partition ${cut}`, state: r.state, attempts: r.attempts.map((a) => a.state), lines: r.executions.counts.s, ...out }));
  return out;
}

const [server, replica, ...cuts] = await Promise.all([
  freezeServer({ freezeMs: 20_000, env: DEFAULT_TIMINGS }),
  freezeServer({ freezeMs: 45_000, replicas: 2, frozen: 0, env: DEFAULT_TIMINGS }),
  partition("link-down"),
  partition("drop"),
]);
for (const [name, r] of Object.entries({ server, replica }))
  console.log(JSON.stringify({ case: `freeze ${name}`, attempts: r.attempts, overlap_samples: r.sampler.overlapSamples }));
console.log(
  JSON.stringify({
    bench: "fences",
    server_freeze_reruns: reruns(server),
    replica_freeze_reruns: reruns(replica),
    partition_overlap_ms: Math.max(...cuts.map((c) => c.overlapMs)),
    partition_double_executions: cuts.reduce((n, c) => n + c.doubleExecutions, 0),
    fence_margin_ms: Math.min(...cuts.map((c) => c.marginMs)),
    fence_margin_config_ms: TTL_MS - defaultFenceMs(TTL_MS) - FENCE_KILL_BUDGET_MS,
  }),
);
process.exit(0);
