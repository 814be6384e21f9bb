// What a test run can leave behind: `dockyard-*` entries in the temporary directory, and
// `dockyard-*` containers and volumes on the test engines. scripts/test.sh takes a baseline of
// the engines before the tests (other runs share them) and leftovers.check.ts compares after.
import { readdirSync } from "node:fs";
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

/** `dockyard-*` containers (any state) and volumes on every test engine that answers. */
export async function scanEngines(): Promise<Scan> {
  const resources: Record<string, string> = {};
  for (const host of ENGINES) {
    const docker = engine(host);
    try {
      await docker.ping();
    } catch {
      continue; // engine B runs only when setup started it; nothing can be left on an engine that is not there
    }
    const containers = await docker.listContainers({ all: true, filters: { name: ["dockyard-"] } });
    for (const c of containers) {
      const name = (c.Names[0] ?? c.Id).replace(/^\//, "");
      if (!name.startsWith("dockyard-")) continue;
      resources[`${host} container ${name}`] = `${c.State} ${c.Status}, labels ${JSON.stringify(c.Labels)}`;
    }
    const { Volumes } = await docker.listVolumes({ filters: { name: ["dockyard-"] } });
    for (const v of Volumes ?? []) {
      if (!v.Name.startsWith("dockyard-")) continue;
      resources[`${host} volume ${v.Name}`] = `labels ${JSON.stringify(v.Labels ?? {})}`;
    }
  }
  return { resources };
}

/** `dockyard-*` entries in the temporary directory (scripts/test.sh gives each run its own). */
export function scanTempDir(dir = os.tmpdir()): string[] {
  return readdirSync(dir)
    .filter((e) => e.startsWith("dockyard-"))
    .sort();
}

/** Resources in `now` that are not in `baseline`. */
export function added(baseline: Scan, now: Scan): Record<string, string> {
  return Object.fromEntries(Object.entries(now.resources).filter(([k]) => !(k in baseline.resources)));
}

if (process.argv[1]?.endsWith("scan.ts") && process.argv[2] === "baseline") {
  process.stdout.write(`${JSON.stringify(await scanEngines())}\n`);
}
