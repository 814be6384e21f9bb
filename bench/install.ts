// npm run bench -- install
// The agent install as an operator meets it, on this machine:
//  - package_mb: the release tarball's size (npm run package; MB = 10^6 bytes);
//  - install_s: ops/install/install.sh from the unpacked package into a throwaway root (a mount
//    namespace with its own /etc, /opt, /var/lib: test/src/helpers/install-root.ts), the median of
//    BENCH_INSTALL_RUNS (3) fresh installs: copy to /opt/dockyard/<version>, user, group,
//    agent.env, state directory, unit;
//  - agent_ready_s: from starting the agent as the unit's ExecStart does (its user, its
//    EnvironmentFile) to its first stage having run (a run submitted before the start, so the
//    stage waits for it); online_s: to it being listed online, on the way. Median of the runs.
// Targets: install_s <= 10, agent_ready_s <= 15. Prints one JSON line per run, the summary last.
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { tempDir } from "@dockyard/testkit";
import {
  DOCKER_HOST,
  InstallRoot,
  NATS_URL,
  buildReleasePackage,
  startAsUnit,
  startFarm,
  submit,
  waitFor,
  waitForRun,
} from "@dockyard/test";

const RUNS = Number(process.env.BENCH_INSTALL_RUNS ?? 3);
const STATE = "/var/lib/dockyard-agent";
const UNIT = "/etc/systemd/system/dockyard-agent.service";

const pkg = buildReleasePackage();
const farm = await startFarm();
const tokenFile = path.join(tempDir("bench-install"), "join-token");
writeFileSync(tokenFile, `${farm.agentJoinToken}\n`, { mode: 0o600 });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => Math.round(ms / 10) / 100;

const runs: { installMs: number; onlineMs: number; readyMs: number }[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const root = await InstallRoot.create({ engineSees: [STATE] });
    const name = `bench-inst-${randomBytes(3).toString("hex")}`;
    try {
      const t0 = performance.now();
      const r = await root.run([
        path.join(pkg.dir, "install.sh"),
        ...["--server", farm.server.grpcAddress, "--token-file", tokenFile, "--name", name, "--nats", NATS_URL],
        ...["--env", `DOCKYARD_NATS_PREFIX=${farm.prefix}`, "--env", `DOCKER_HOST=${DOCKER_HOST}`],
      ]);
      const installMs = performance.now() - t0;
      if (r.code !== 0) throw new Error(`install.sh failed: ${r.stderr}`);

      // The farm's only agent: the stage waits in the queue for it.
      const runId = await submit(
        farm.client,
        "name: bench-install\nstages:\n  hello: { image: dockyard/busybox:1, command: 'echo ready' }\n",
      );
      const t1 = performance.now();
      const agent = startAsUnit(root, UNIT);
      try {
        await waitFor(
          async () => {
            const { agents } = await farm.client.listAgents({});
            return agents.some((a) => a.name === name && a.state === "online");
          },
          { timeoutMs: 60_000, intervalMs: 50, message: `${name} online` },
        );
        const onlineMs = performance.now() - t1;
        const run = await waitForRun(farm.client, runId, 60_000);
        const readyMs = performance.now() - t1;
        if (run.state !== "succeeded") throw new Error(`the stage ended ${run.state}: ${run.stages[0]?.reason}`);
        runs.push({ installMs, onlineMs, readyMs });
        console.log(
          JSON.stringify({ run: i + 1, install_s: s(installMs), online_s: s(onlineMs), agent_ready_s: s(readyMs) }),
        );
      } finally {
        const exited = new Promise((res) => agent.once("exit", res));
        agent.kill("SIGTERM"); // drains (nothing runs), leaves the farm
        await exited;
      }
    } finally {
      await root.close();
    }
  }
} finally {
  await farm.stop();
}

const version = readFileSync(path.join(pkg.dir, "VERSION"), "utf8").trim();
console.log(
  JSON.stringify({
    bench: "install",
    package_mb: Math.round(statSync(pkg.tarball).size / 1e5) / 10,
    install_s: s(median(runs.map((r) => r.installMs))),
    agent_ready_s: s(median(runs.map((r) => r.readyMs))),
    online_s: s(median(runs.map((r) => r.onlineMs))),
    runs: RUNS,
    version,
  }),
);
