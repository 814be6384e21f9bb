// npm run bench -- outage
// A 30 s outage of the server (kill -9, then a restart) and of NATS (kill -9 of
// the farm's own nats-server, then a restart), each while a run's stages are
// running (the outage test's pipeline: a `seq 1 20000` shell stage, a docker
// stage and one that needs both; a lease is 8 s). Measured:
//  - *_recovery_s: from the component being back (the server answering /healthz,
//    or nats-server accepting connections) until the interrupted run moves again
//    (a new event in Postgres, or its end);
//  - server_boot_s: from spawning the new server process until it answers;
//  - double_runs: attempts beyond one per stage; lost_lines: lines of 1..20000
//    missing from (or extra in) the stored log.
// Prints one JSON line last.
import { outageFarm, runOutage, type Component } from "@dockyard/test";

const OUTAGE_MS = Number(process.env.BENCH_OUTAGE_MS ?? 30_000);

async function measure(component: Component) {
  const farm = await outageFarm();
  try {
    let bootMs = 0;
    if (component === "server") {
      const start = farm.startServer.bind(farm);
      farm.startServer = async (i: number) => {
        const t0 = Date.now();
        await start(i);
        bootMs = Date.now() - t0;
      };
    }
    const r = await runOutage(farm, component, OUTAGE_MS);
    console.log(
      JSON.stringify({
        component,
        state: r.state,
        recovery_ms: r.recoveryMs,
        boot_ms: bootMs,
        double_runs: r.doubleRuns,
        lost_lines: r.lostLines,
      }),
    );
    return { ...r, bootMs };
  } finally {
    await farm.stop();
  }
}

const server = await measure("server");
const nats = await measure("nats");
const s = (ms: number) => Math.round(ms / 10) / 100;
console.log(
  JSON.stringify({
    bench: "outage",
    server_restart_recovery_s: s(server.recoveryMs),
    nats_outage_recovery_s: s(nats.recoveryMs),
    double_runs: server.doubleRuns + nats.doubleRuns,
    lost_lines: server.lostLines + nats.lostLines,
    server_boot_s: s(server.bootMs),
    outage_s: OUTAGE_MS / 1000,
    runs_succeeded: [server.state, nats.state].filter((x) => x === "succeeded").length,
  }),
);
process.exit(0);
