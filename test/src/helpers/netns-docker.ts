// A Docker engine of a namespace "host" (see netns.ts): a dockerd of its own, configured as
// scripts/docker/start-dockerd.sh configures the test engines (vfs, --bridge=none, no
// iptables), with its data root, exec root, pidfile and socket in a temporary directory,
// started in the host's network namespace so its containers and its own networks live
// there. It joins only the network namespace (`nsenter --net`): `ip netns exec` also
// remounts /sys for the namespace, which hides the cgroup tree and dockerd exits at once.
// The socket is a file, so the agent of that host (and the test) reach it by path. Images
// are copied from the shared engine (`docker save | docker load` of the few a stage needs:
// 2 MB for the busybox image, about 0.5 s) since nothing can be pulled here. `stop()`
// removes its containers, stops the daemon (its containerd exits with it) and deletes the
// directory, so nothing is left on the machine.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import { tempDir } from "@dockyard/testkit";
import { testDocker } from "./docker";
import type { NetnsHost } from "./netns";
import { waitFor } from "./wait";

/** One dockerd in one namespace; see the file comment. */
export class NetnsDockerd {
  readonly dir: string;
  /**
   * The exec root (containerd's sockets) is short and outside `dir`: a socket's path may not pass
   * 107 bytes, and under a test run's temporary directory containerd's would.
   */
  readonly execRoot: string;
  /** `unix://…` for DOCKER_HOST. */
  readonly host: string;
  readonly docker: Docker;
  private child: ChildProcess | null = null;

  private constructor(readonly ns: NetnsHost) {
    this.dir = tempDir(`dockerd-${ns.name}`);
    this.execRoot = `/tmp/${ns.name}-exec`;
    this.host = `unix://${path.join(this.dir, "docker.sock")}`;
    this.docker = new Docker({ socketPath: path.join(this.dir, "docker.sock") });
  }

  /** Start the engine in `ns` and load `images` (tags on the shared test engine) into it. */
  static async start(ns: NetnsHost, images: readonly string[]): Promise<NetnsDockerd> {
    const d = new NetnsDockerd(ns);
    try {
      await d.launch();
      await d.load(images);
    } catch (err) {
      await d.stop().catch((e: Error) => {
        throw new Error(`${(err as Error).message}; and stopping it: ${e.message}`, { cause: err });
      });
      throw err;
    }
    return d;
  }

  private async launch(): Promise<void> {
    const log = path.join(this.dir, "dockerd.log");
    const out = openSync(log, "a");
    const args = [`--net=/run/netns/${this.ns.name}`, "dockerd"];
    args.push("--data-root", path.join(this.dir, "data"), "--exec-root", this.execRoot);
    args.push("--host", this.host, "--pidfile", path.join(this.dir, "dockerd.pid"));
    args.push("--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs");
    const child = spawn("nsenter", args, { stdio: ["ignore", out, out] });
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`dockerd in ${this.ns.name} exited: ${readFileSync(log, "utf8").slice(-800)}`);
        return this.docker.ping().then(
          () => true,
          () => false,
        );
      },
      { message: `dockerd in ${this.ns.name} to answer (log: ${log})`, timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  private async load(images: readonly string[]): Promise<void> {
    const shared = await testDocker();
    for (const tag of images) {
      const tar = await shared.getImage(tag).get();
      const res = await this.docker.loadImage(tar);
      // The answer is a progress stream; the load is done when it ends.
      await new Promise<void>((resolve, reject) => {
        res.on("error", reject);
        res.on("end", resolve);
        res.resume();
      });
      await this.docker.getImage(tag).inspect();
    }
  }

  /** This engine's container events of a run since `since` (unix seconds). */
  runEvents(runId: string, since: number): Promise<{ status: string; attempt: string }[]> {
    return engineRunEvents(this.docker, runId, since);
  }

  /** Remove every container, stop the daemon and delete its directory (idempotent; also after a failed start). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const containers = await this.docker.listContainers({ all: true }).catch(() => []);
      for (const c of containers)
        await this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await gone;
      clearTimeout(killer);
    }
    // Its containerd exits with it; wait for that too, or the directory would be busy.
    const pidFile = path.join(this.execRoot, "containerd", "containerd.pid");
    await waitFor(() => !alive(pidFile), {
      message: `containerd of ${this.ns.name} to exit`,
      timeoutMs: 15_000,
    }).catch(() => {
      try {
        process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
      } catch {
        // gone meanwhile
      }
    });
    // dockerd makes its data root a mount of its own and unmounts it on a clean exit; one that died did not.
    const data = path.join(this.dir, "data");
    if (readFileSync("/proc/mounts", "utf8").includes(` ${data} `)) execFileSync("umount", ["-l", data]);
    rmSync(this.dir, { recursive: true, force: true });
    rmSync(this.execRoot, { recursive: true, force: true });
  }
}

function alive(pidFile: string): boolean {
  try {
    const pid = Number(readFileSync(pidFile, "utf8"));
    if (!(pid > 0)) return false;
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/** An engine's container events of a run since `since` (unix seconds) until now. */
export async function engineRunEvents(
  docker: Docker,
  runId: string,
  since: number,
): Promise<{ status: string; attempt: string }[]> {
  const stream = await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: { type: ["container"], label: [`dockyard.run=${runId}`] },
  });
  // With `until` the engine ends the stream once it has sent the past events.
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks)
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { status: string; Actor: { Attributes: Record<string, string> } })
    .map((e) => ({ status: e.status, attempt: e.Actor.Attributes["dockyard.attempt"] ?? "" }));
}
