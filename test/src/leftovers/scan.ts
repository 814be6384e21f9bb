// What a test run can leave behind: `dockyard-*` entries in the temporary directory,
// `dockyard-*` containers and volumes and service replicas and networks (`dy-svc-*`) on the test
// engines, service proxies (detached haproxy processes) whose files are in the run's directory, and
// Prometheus, Alertmanager or Pushgateway processes started from it. scripts/test.sh takes a baseline of
// the engines before the tests (other runs share them) and leftovers.check.ts compares after.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import os from "node:os";
import Docker from "dockerode";

/** The engines tests use: the main one and the second one that registry tests pull on. */
export const ENGINES = [
  process.env.DOCKER_HOST ?? "unix:///tmp/dockyard-docker/docker.sock",
  "unix:///tmp/dockyard-docker-b/docker.sock",
];

export interface Scan {
  /** Keys: `ENGINE container NAME` / `ENGINE volume NAME`; values: what to print about it. */
  resources: Record<string, string>;
}

const engine = (host: string) => new Docker({ socketPath: host.replace(/^unix:\/\//, "") });

/** Name prefixes of what tests make on the engines: stage containers and volumes, service replicas and networks. */
const PREFIXES = ["dockyard-", "dy-svc-"];
const ours = (name: string) => PREFIXES.some((p) => name.startsWith(p));

/** `dockyard-*` and `dy-svc-*` containers (any state), volumes and networks on every test engine that answers. */
export async function scanEngines(): Promise<Scan> {
  const resources: Record<string, string> = {};
  for (const host of ENGINES) {
    const docker = engine(host);
    try {
      await docker.ping();
    } catch {
      continue; // engine B runs only when setup started it; nothing can be left on an engine that is not there
    }
    const containers = await docker.listContainers({ all: true, filters: { name: PREFIXES } });
    for (const c of containers) {
      const name = (c.Names[0] ?? c.Id).replace(/^\//, "");
      if (!ours(name)) continue;
      resources[`${host} container ${name}`] = `${c.State} ${c.Status}, labels ${JSON.stringify(c.Labels)}`;
    }
    const { Volumes } = await docker.listVolumes({ filters: { name: ["dockyard-"] } });
    for (const v of Volumes ?? []) {
      if (!v.Name.startsWith("dockyard-")) continue;
      resources[`${host} volume ${v.Name}`] = `labels ${JSON.stringify(v.Labels ?? {})}`;
    }
    for (const n of await docker.listNetworks({ filters: { name: ["dy-svc-"] } })) {
      if (ours(n.Name)) resources[`${host} network ${n.Name}`] = `labels ${JSON.stringify(n.Labels ?? {})}`;
    }
  }
  return { resources };
}

/** `dockyard-*` and ui-test journey (`dy-journey-*`) entries in the temporary directory (scripts/test.sh gives each run its own). */
export function scanTempDir(dir = os.tmpdir()): string[] {
  return readdirSync(dir)
    .filter((e) => e.startsWith("dockyard-") || e.startsWith("dy-journey-"))
    .sort();
}

/** haproxy processes (service proxies) whose command line names a file under `dir`: a test's agent started them. */
export function scanProxies(dir = os.tmpdir()): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (/(^|\/)haproxy /.test(cmd) && cmd.includes(dir)) found.push(`${entry}: ${cmd}`);
    } catch {
      // it ended while we looked
    }
  }
  return found;
}

/** The monitoring daemons testkit's startMonitoring and startPushgateway run (argv[0]'s basename). */
const MONITORING = new Set(["prometheus", "prometheus-alertmanager", "prometheus-pushgateway"]);

/**
 * Prometheus, Alertmanager and Pushgateway processes started from `dir`: their command line names
 * a file under it (configs, data) or they run in a directory under it (testkit starts each in its
 * test's temp dir; the Pushgateway's command line names no file).
 */
export function scanMonitoring(dir = os.tmpdir()): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!MONITORING.has((argv[0] ?? "").split("/").pop() ?? "")) continue;
      const cmd = argv.join(" ").trim();
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`);
      } catch {
        // another user's process: its command line is all we can read
      }
      if (cmd.includes(dir) || cwd.startsWith(dir)) found.push(`${entry}: ${cmd} (in ${cwd || "?"})`);
    } catch {
      // it ended while we looked
    }
  }
  return found;
}

/**
 * Docker engines a test started for a host of its own (test/src/helpers/netns-docker.ts): dockerd processes whose
 * command line names a path under `dir` (their data root and socket are there).
 */
export function scanEngineDaemons(dir = os.tmpdir()): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if ((argv[0] ?? "").split("/").pop() !== "dockerd") continue;
      const cmd = argv.join(" ").trim();
      if (cmd.includes(dir)) found.push(`${entry}: ${cmd}`);
    } catch {
      // it ended while we looked
    }
  }
  return found;
}

/** Resources in `now` that are not in `baseline`. */
export function added(baseline: Scan, now: Scan): Record<string, string> {
  return Object.fromEntries(Object.entries(now.resources).filter(([k]) => !(k in baseline.resources)));
}

if (process.argv[1]?.endsWith("scan.ts") && process.argv[2] === "baseline") {
  process.stdout.write(`${JSON.stringify(await scanEngines())}\n`);
}
