// The release package (scripts/package.ts) for tests: built once per test file, unpacked into a
// temporary directory outside the repository, and its agent started with the package's own
// bin/dockyard (the package's node), with a clean environment (nothing from the test runner).
import { execFileSync, spawn } from "node:child_process";
import { openSync } from "node:fs";
import path from "node:path";
import { tempDir } from "@dockyard/testkit";
import { buildPackage, type PackageResult } from "../../../scripts/package";
import type { AgentOptions, Farm, SpawnedAgent } from "./farm";

export interface UnpackedPackage extends PackageResult {
  /** The unpacked tree's root (…/dockyard-<version>-linux-<arch>), outside the repository. */
  root: string;
  /** Its bin/dockyard. */
  bin: string;
}

/** Builds the package (a no-op rebuild is a few seconds of tar) and unpacks its tarball. */
export async function unpackedPackage(): Promise<UnpackedPackage> {
  const result = await buildPackage({ log: () => undefined });
  const into = tempDir("package");
  execFileSync("tar", ["-C", into, "-xzf", result.tarball]);
  const root = path.join(into, path.basename(result.dir));
  return { ...result, root, bin: path.join(root, "bin/dockyard") };
}

/** The environment a host gives the agent: the farm's agent variables, PATH and HOME only. */
export function hostEnv(farm: Farm, opts: AgentOptions): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...farm.agentEnv(opts) };
}

/** Starts `<package>/bin/dockyard agent` from `cwd` (default: a temporary directory); the log goes to the state dir. */
export function spawnPackageAgent(pkg: UnpackedPackage, farm: Farm, opts: AgentOptions, cwd?: string): SpawnedAgent {
  const env = hostEnv(farm, opts);
  const stateDir = env.DOCKYARD_AGENT_STATE_DIR!;
  const logFile = path.join(stateDir, "agent.log");
  const out = openSync(logFile, "a");
  const child = spawn(pkg.bin, ["agent"], { cwd: cwd ?? tempDir("package-cwd"), env, stdio: ["ignore", out, out] });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, stateDir, logFile, exited };
}
