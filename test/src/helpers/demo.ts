// `npm run demo` (scripts/demo.sh) as a user runs it, for the demo's own test: its output, the
// processes it recorded, and whether the services around it answer.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import http from "node:http";
import { REPO_ROOT } from "./farm";

export const DEMO_SCRIPT = path.join(REPO_ROOT, "scripts/demo.sh");

export interface DemoResult {
  code: number | null;
  /** stdout and stderr together, in the order they came. */
  output: string;
}

/** Runs `bash scripts/demo.sh ARGS` from `cwd` with `env` over this process's environment. */
export function runDemo(env: Record<string, string>, args: string[] = [], cwd = "/"): Promise<DemoResult> {
  const child = spawn("bash", [DEMO_SCRIPT, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Runs a shell command line (`bash -c`) from `cwd` with exactly `env` (plus PATH). */
export function runShell(line: string, cwd: string, env: Record<string, string> = {}): Promise<DemoResult> {
  const child = spawn("bash", ["-c", line], {
    cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** The processes the demo recorded in DIR: `server`, `agent-a`, ... and `services/nats`, ... → pid. */
export function recordedPids(dir: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const sub of ["", "services"]) {
    const d = path.join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (!f.endsWith(".pid")) continue;
      const pid = Number(readFileSync(path.join(d, f), "utf8").trim().split(" ")[0]);
      if (Number.isInteger(pid) && pid > 0) pids.set(path.join(sub, f.slice(0, -4)), pid);
    }
  }
  return pids;
}

/** Whether PID runs (a zombie does not count: it has exited, only its parent has not looked). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false; // no such process
  }
}

/** Live processes in the session that PID leads (the agent's supervisor, dockerd's containerd). */
export function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // After the command: state, ppid, pgrp, session.
      if (Number(fields[3]) === sid && fields[0] !== "Z") members.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return members;
}

/** Whether something accepts TCP connections on 127.0.0.1:PORT. */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(2000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Whether the dockerd at unix socket SOCK answers `/_ping`. */
export function dockerAnswers(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: sock, path: "/_ping", timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("error", () => resolve(false));
    req.once("timeout", () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** `n` free consecutive loopback ports, the first returned (the demo's gRPC port, then HTTP and the monitoring's). */
export async function freePorts(n: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    let free = true;
    for (let p = port; free && p < port + n; p++) free = !(await listening(p)) && (await bindable(p));
    if (free) return port;
  }
  throw new Error(`no ${n} free consecutive ports found on 127.0.0.1`);
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
