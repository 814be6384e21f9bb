// The last file of `npm test` (scripts/test.sh passes it after every *.test.ts): fails when the
// run left a `dockyard-*` directory in its temporary directory, or a `dockyard-*` container or
// volume (or service replica or network) on a test engine that was not there when the run began
// (DOCKYARD_TEST_BASELINE), or a service proxy or monitoring daemon (Prometheus, Alertmanager, the
// Pushgateway) whose files or working directory are in the run's temporary directory.
// Not a *.test.ts: it means something only after the other files of the same run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import Docker from "dockerode";
import { waitFor } from "../helpers/wait";
import { freePort } from "@dockyard/testkit";
import {
  added,
  ENGINES,
  scanEngineDaemons,
  scanEngines,
  scanMonitoring,
  scanProxies,
  scanTempDir,
  type Scan,
} from "./scan";

/** Test files of this run still running beside this one (the runner's other children). */
function siblings(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === process.ppid && state !== "Z") found.push(Number(entry));
    } catch {
      // it ended while we looked
    }
  }
  return found;
}

test("the test run left no dockyard-* temporary directory, container or volume", { timeout: 60 * 60_000 }, async () => {
  const baselineFile = process.env.DOCKYARD_TEST_BASELINE;
  assert.ok(
    baselineFile,
    "DOCKYARD_TEST_BASELINE is not set: run this through 'npm test' (scripts/test.sh), which takes the baseline",
  );
  const baseline = JSON.parse(readFileSync(baselineFile, "utf8")) as Scan;
  // With more than one test file at a time, the others may still run: wait for them.
  await waitFor(() => siblings().length === 0, {
    timeoutMs: 50 * 60_000,
    intervalMs: 500,
    message: "the other test files to finish",
  });

  // Positive control: a directory, a container and a volume made now are seen, then removed.
  const docker = new Docker({ socketPath: ENGINES[0]!.replace(/^unix:\/\//, "") });
  const probe = `dockyard-leftover-probe-${randomBytes(4).toString("hex")}`;
  mkdirSync(path.join(os.tmpdir(), probe));
  await docker.createVolume({ Name: probe });
  const container = await docker.createContainer({ name: probe, Image: "dockyard/busybox:1", Cmd: ["true"] });
  try {
    assert.ok(scanTempDir().includes(probe), "the scan sees a directory made now");
    const seen = Object.keys(added(baseline, await scanEngines()));
    assert.ok(
      seen.includes(`${ENGINES[0]} container ${probe}`),
      `the scan sees a container made now: ${seen.join(", ")}`,
    );
    assert.ok(seen.includes(`${ENGINES[0]} volume ${probe}`), `the scan sees a volume made now: ${seen.join(", ")}`);
  } finally {
    rmdirSync(path.join(os.tmpdir(), probe));
    await container.remove({ force: true });
    await docker.getVolume(probe).remove();
  }

  // Agents remove a run's containers and volume a moment after it ends: give them that moment.
  let left: Record<string, string> = {};
  await waitFor(
    async () => {
      left = added(baseline, await scanEngines());
      return Object.keys(left).length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 1000, message: "the run's containers and volumes to go" },
  ).catch(() => undefined); // reported below, with names
  // Positive control for the proxies: a haproxy started now from a file in the run's directory is seen.
  const cfg = path.join(os.tmpdir(), `probe-${randomBytes(4).toString("hex")}-haproxy.cfg`);
  const port = await new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
  writeFileSync(cfg, `defaults\n  mode http\n  timeout client 1s\nfrontend probe\n  bind 127.0.0.1:${port}\n`);
  const probeProxy = spawn("haproxy", ["-db", "-f", cfg], { stdio: "ignore" });
  try {
    await waitFor(() => scanProxies().some((p) => p.includes(cfg)), {
      timeoutMs: 10_000,
      message: "the scan to see a haproxy started now",
    });
  } finally {
    probeProxy.kill("SIGKILL");
    await new Promise((r) => probeProxy.once("exit", r));
    rmSync(cfg, { force: true });
  }
  // Positive control for the monitoring daemons: a Pushgateway started now in a directory of the
  // run's (as testkit starts one, its command line naming no file there) is seen.
  const monDir = path.join(os.tmpdir(), `probe-${randomBytes(4).toString("hex")}-monitoring`);
  mkdirSync(monDir);
  const probeGateway = spawn(
    "prometheus-pushgateway",
    [`--web.listen-address=127.0.0.1:${await freePort()}`, "--persistence.file="],
    {
      cwd: monDir,
      stdio: "ignore",
    },
  );
  try {
    await waitFor(() => scanMonitoring().some((p) => p.includes(monDir)), {
      timeoutMs: 10_000,
      message: "the scan to see a Pushgateway started now",
    });
  } finally {
    probeGateway.kill("SIGKILL");
    await new Promise((r) => probeGateway.once("exit", r));
    rmSync(monDir, { recursive: true, force: true });
  }
  // Positive control for the hosts' own engines: a process named dockerd whose command line names a
  // directory of the run's is seen (a shell under that name, not a real engine: the scan reads argv only).
  const probeEngine = spawn("sh", ["-c", "sleep 60", "sh", `--data-root=${path.join(os.tmpdir(), "probe-engine")}`], {
    argv0: "dockerd",
    stdio: "ignore",
  });
  try {
    await waitFor(() => scanEngineDaemons().some((p) => p.includes("probe-engine")), {
      timeoutMs: 10_000,
      message: "the scan to see a dockerd started now",
    });
  } finally {
    probeEngine.kill("SIGKILL");
    await new Promise((r) => probeEngine.once("exit", r));
  }
  const engines = scanEngineDaemons();
  assert.deepEqual(engines, [], `Docker engines of test hosts left running:\n  ${engines.join("\n  ")}`);
  const monitoring = scanMonitoring();
  assert.deepEqual(
    monitoring,
    [],
    `Prometheus, Alertmanager or Pushgateway left running:\n  ${monitoring.join("\n  ")}`,
  );
  const proxies = scanProxies();
  assert.deepEqual(proxies, [], `service proxies left running:\n  ${proxies.join("\n  ")}`);
  const dirs = scanTempDir();
  assert.deepEqual(dirs, [], `temporary directories left in ${os.tmpdir()}:\n  ${dirs.join("\n  ")}`);
  const lines = Object.entries(left).map(([k, v]) => `${k}: ${v}`);
  assert.deepEqual(
    lines,
    [],
    `containers and volumes left on the test engines (not there before the run; on an engine shared with another test run, that run's leftovers show here too):\n  ${lines.join("\n  ")}`,
  );
});
