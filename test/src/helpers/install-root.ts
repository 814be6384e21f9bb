// A throwaway root for install.sh: a mount namespace (unshare --mount --propagation private) in
// which a copy of /etc, and empty directories for /opt, /var/lib and /usr/local/bin, are mounted
// over the real ones. install.sh writes its user, group, unit, package and state there, and the
// host never sees them; the test reads them through the directories on the host side. Processes
// (install.sh, the agent, --check) enter the namespace with nsenter. The network, /tmp and the
// uid/gid numbers are the host's: the agent reaches the test farm and the test engine's socket
// (root:docker 0660; the copied /etc/group has the host's docker gid, so membership works).
// The engine runs outside the namespace and resolves the paths the agent gives it (bind mounts of
// the stage's output directory under the state directory) on the host: for each path in
// `engineSees`, the host gets a symlink at that path into the namespace's copy for the test's
// length (only when nothing is there; removed at close).
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { waitFor } from "./wait";
import { REPO_ROOT } from "./farm";

/** Builds the release package (npm run package: scripts/package.ts) and returns its unpacked directory. */
export function buildReleasePackage(): { dir: string; tarball: string } {
  execFileSync(process.execPath, ["--import", "tsx", "scripts/package.ts"], { cwd: REPO_ROOT, stdio: "ignore" });
  const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, "cli/package.json"), "utf8")) as {
    version: string;
  };
  const dir = path.join(REPO_ROOT, "dist/release", `dockyard-${version}-linux-${process.arch}`);
  return { dir, tarball: `${dir}.tar.gz` };
}

export interface NsResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Where each mounted directory lives on the host side. */
const MOUNTS = { etc: "/etc", opt: "/opt", varlib: "/var/lib", bin: "/usr/local/bin" } as const;

export class InstallRoot {
  private constructor(
    /** The host-side directory holding etc/, opt/, varlib/, bin/. */
    readonly dir: string,
    private readonly holder: ChildProcess,
    private readonly links: string[],
  ) {}

  /** Creates the directories and the namespace; `close` removes both. */
  static async create(opts: { engineSees?: string[] } = {}): Promise<InstallRoot> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "install-root-"));
    chmodSync(dir, 0o755);
    for (const name of Object.keys(MOUNTS)) mkdirSync(path.join(dir, name), { mode: 0o755 });
    const copy = spawnSync("cp", ["-a", "/etc/.", path.join(dir, "etc")], { encoding: "utf8" });
    if (copy.status !== 0) throw new Error(`copying /etc failed: ${copy.stderr}`);
    const binds = Object.entries(MOUNTS)
      .map(([name, target]) => `mount --bind ${path.join(dir, name)} ${target}`)
      .join(" && ");
    // The holder keeps the namespace alive; `exec sleep` so its pid is the namespace's process.
    const holder = spawn(
      "unshare",
      ["--mount", "--propagation", "private", "bash", "-c", `${binds} && echo ready && exec sleep infinity`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let said = "";
    holder.stdout.on("data", (d: Buffer) => (said += d.toString()));
    holder.stderr.on("data", (d: Buffer) => (said += d.toString()));
    const root = new InstallRoot(dir, holder, []);
    for (const p of opts.engineSees ?? []) {
      if (existsSync(p) || isLink(p)) {
        await root.close();
        throw new Error(`${p} exists on this host: the install test will not hide a real agent's files`);
      }
      symlinkSync(root.host(p), p);
      root.links.push(p);
    }
    await waitFor(
      () => {
        if (holder.exitCode !== null) throw new Error(`unshare exited: ${said}`);
        return said.includes("ready");
      },
      { timeoutMs: 10_000, message: "the mount namespace" },
    );
    return root;
  }

  /** `argv` inside the namespace (as root), with `env` (default: this process's environment). */
  spawn(argv: string[], opts: { env?: NodeJS.ProcessEnv; stdio?: "pipe" | "ignore" } = {}): ChildProcess {
    // Without a new pid namespace nsenter execs the command itself: the child's pid is the command's.
    return spawn("nsenter", ["--target", String(this.holder.pid), "--mount", "--", ...argv], {
      env: opts.env ?? process.env,
      stdio: ["ignore", opts.stdio ?? "pipe", opts.stdio ?? "pipe"],
    });
  }

  /** Runs `argv` in the namespace to its end. */
  run(argv: string[], env?: NodeJS.ProcessEnv): Promise<NsResult> {
    const child = this.spawn(argv, { env });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  }

  /** The host-side path of `p`, a path inside the namespace under one of the mounted directories. */
  host(p: string): string {
    for (const [name, target] of Object.entries(MOUNTS)) {
      if (p === target || p.startsWith(`${target}/`)) return path.join(this.dir, name, p.slice(target.length));
    }
    throw new Error(`${p} is not under a directory the install root mounts`);
  }

  /** uid and gid of `user` in the namespace's /etc/passwd, or null. */
  user(name: string): { uid: number; gid: number; home: string; shell: string } | null {
    const line = readFileSync(this.host("/etc/passwd"), "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${name}:`));
    if (!line) return null;
    const f = line.split(":");
    return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
  }

  /** gid and members of `group` in the namespace's /etc/group, or null. */
  group(name: string): { gid: number; members: string[] } | null {
    const line = readFileSync(this.host("/etc/group"), "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${name}:`));
    if (!line) return null;
    const f = line.split(":");
    return { gid: Number(f[2]), members: f[3] ? f[3].split(",") : [] };
  }

  async close(): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      const exited = new Promise((r) => this.holder.once("exit", r));
      this.holder.kill("SIGKILL");
      await exited;
    }
    for (const p of this.links) if (isLink(p)) unlinkSync(p);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The unit's [Service] settings as systemd reads them (last one wins; ExecStart as words). */
export function unitSettings(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** KEY=VALUE lines of an EnvironmentFile. */
export function envFileOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Starts the installed agent the way the unit's ExecStart does: as its User (with its groups from
 * the namespace's /etc/group), only the EnvironmentFile's variables (plus PATH, as systemd sets),
 * in its WorkingDirectory. The returned child's pid is the agent's (every step execs).
 */
export function startAsUnit(root: InstallRoot, unitPath: string): ChildProcess {
  const unit = unitSettings(readFileSync(root.host(unitPath), "utf8"));
  const env = envFileOf(readFileSync(root.host(unit.EnvironmentFile!), "utf8"));
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return root.spawn(
    [
      "setpriv",
      `--reuid=${unit.User}`,
      `--regid=${unit.Group}`,
      "--init-groups",
      "--",
      "env",
      "-i",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      ...vars,
      "sh",
      "-c",
      'cd "$0" && exec "$@"',
      unit.WorkingDirectory!,
      ...unit.ExecStart!.split(/\s+/),
    ],
    { env: {} },
  );
}
