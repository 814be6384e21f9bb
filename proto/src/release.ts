// Which Dockyard this process is: the release version and the commit it was built from, for
// `dockyard --version`, the agent's registration and the server's refusals. In the release
// package both come from its VERSION file ("<version> <commit>", scripts/package.ts); in a
// checkout (tsx or dist/) from cli/package.json and git. Paths are relative to the repository
// root, which is also the package's root (scripts/build.ts keeps import.meta.url meaning the source).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface ReleaseVersion {
  /** The release version (cli/package.json "version"), e.g. 0.1.0. */
  version: string;
  /** The commit's short sha, or "unknown" outside a git checkout without a VERSION file. */
  commit: string;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let cached: ReleaseVersion | undefined;

/** This process's release version (read once; a missing file or git gives "unknown"). */
export function releaseVersion(): ReleaseVersion {
  cached ??= readReleaseVersion(ROOT);
  return cached;
}

/** `0.1.0 (abc1234)`: what `dockyard --version` prints after "dockyard " and what an agent reports. */
export function releaseVersionText(v: ReleaseVersion = releaseVersion()): string {
  return `${v.version} (${v.commit})`;
}

/** Reads `root`'s VERSION file, else its cli/package.json and git's HEAD. */
export function readReleaseVersion(root: string): ReleaseVersion {
  const line = tryRead(`${root}/VERSION`);
  if (line !== undefined) {
    const [version = "unknown", commit = "unknown"] = line.trim().split(/\s+/);
    return { version, commit };
  }
  let version = "unknown";
  try {
    version = (JSON.parse(tryRead(`${root}/cli/package.json`) ?? "{}") as { version?: string }).version ?? version;
  } catch {
    // An unreadable package.json leaves "unknown": the version is informative, never fatal.
  }
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    }).trim();
  } catch {
    // No git or not a checkout: "unknown" (the package has its VERSION file instead).
  }
  return { version, commit };
}

function tryRead(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
