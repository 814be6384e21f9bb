// npm run bench -- fences
// Issue 13's freeze and partition cases with the server's default timings (lease 15 s,
// fence 10.5 s, agent lost after 15 s), three shell stages each (one for the partition),
// every live copy sampled every 0.25 s and every step stamped into a marker file:
//  - server_freeze_reruns: attempts beyond one per stage after SIGSTOP of the only server for 20 s;
//  - replica_freeze_reruns: the same with two replicas, the agents' one frozen for 45 s;
//  - partition_overlap_ms: longest time two copies of the stage were alive at once while
//    its agent was cut off for 30 s (iptables DROP of its replica and its NATS link; and,
//    run in its own network namespace, the host side of its veth pair down);
//  - partition_double_executions: stages that executed all their steps twice;
//  - fence_margin_ms: from the cut-off copy last seen alive to its retry first seen (the
//    smaller of the two partitions).
// Targets: every count and overlap 0, fence_margin_ms > 0. Prints one JSON line last.
import { cutAgentOff, DEFAULT_TIMINGS, freezeServer, type ScenarioResult } from "@dockyard/test";

const reruns = (r: ScenarioResult) => Object.values(r.attempts).reduce((n, a) => n + Math.max(0, a.length - 1), 0);

const [server, replica, dropped, vethDown] = await Promise.all([
  freezeServer({ freezeMs: 20_000, env: DEFAULT_TIMINGS }),
  freezeServer({ freezeMs: 45_000, replicas: 2, frozen: 0, env: DEFAULT_TIMINGS }),
  cutAgentOff({ fence: "on", cutMs: 30_000, how: "iptables", env: DEFAULT_TIMINGS }),
  cutAgentOff({ fence: "on", cutMs: 30_000, how: "veth", env: DEFAULT_TIMINGS }),
]);
const cuts = [dropped, vethDown];
/** Stages of `r` that executed every step in more than one attempt. */
const doubles = (r: ScenarioResult) =>
  Object.keys(r.attempts).filter(
    (stage) => Object.entries(r.marks).filter(([f, l]) => f.startsWith(`${stage}.`) && l.length === r.steps).length > 1,
  ).length;
/** From the cut-off copy last seen alive to its retry first seen. */
const margin = (r: ScenarioResult) => {
  const [old, retry] = r.sampler.seen.s ?? [];
  return old && retry ? r.sampler.spans[retry]![0] - r.sampler.spans[old]![1] : -Infinity;
};
for (const [name, r] of Object.entries({ server, replica, dropped, vethDown })) {
  console.log(JSON.stringify({ case: name, attempts: r.attempts, overlap_samples: r.sampler.overlapSamples }));
}
console.log(
  JSON.stringify({
    bench: "fences",
    server_freeze_reruns: reruns(server),
    replica_freeze_reruns: reruns(replica),
    partition_overlap_ms: Math.max(...cuts.map((r) => r.sampler.overlapMs)),
    partition_double_executions: cuts.reduce((n, r) => n + doubles(r), 0),
    fence_margin_ms: Math.min(...cuts.map(margin)),
  }),
);
process.exit(0);
