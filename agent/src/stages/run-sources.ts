// The runs' files on this host: a git checkout at the pipeline's ref, or the tar
// the CLI uploaded (fetched over gRPC from the server), unpacked once per run
// under the agent's state directory and removed when the run ends.
import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import tar from "tar-fs";
import type { Assignment } from "@dockyard/proto";
import type { AgentClient } from "../transport/agent-client";
import { checkoutGit } from "../docker/git-context";

export interface RunSource {
  dir: string;
  /** The commit checked out (git), or '' (upload). */
  commit: string;
}

export class RunSources {
  private readonly ready = new Map<string, Promise<RunSource>>();

  constructor(
    private readonly root: string,
    private readonly client: () => AgentClient,
  ) {}

  /** The run's source tree, fetched on first use (concurrent stages of a run share one fetch). */
  get(a: Assignment, signal: AbortSignal): Promise<RunSource> {
    let p = this.ready.get(a.runId);
    if (!p) {
      p = this.fetch(a, signal);
      this.ready.set(a.runId, p);
      p.catch(() => this.ready.delete(a.runId)); // a later stage tries again
    }
    return p;
  }

  /** Runs whose files are on disk (also those an earlier process of this agent fetched). */
  async runIds(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return []; // no run fetched sources here yet
      throw err;
    });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  async remove(runId: string): Promise<void> {
    this.ready.delete(runId);
    await rm(path.join(this.root, safe(runId)), { recursive: true, force: true });
  }

  private async fetch(a: Assignment, signal: AbortSignal): Promise<RunSource> {
    const dir = path.join(this.root, safe(a.runId), "tree");
    await rm(dir, { recursive: true, force: true });
    const source = a.spec?.source?.kind;
    if (source?.case === "git") {
      await mkdir(path.dirname(dir), { recursive: true });
      const { commit } = await checkoutGit(source.value.url, source.value.ref || "HEAD", dir, signal);
      return { dir, commit };
    }
    if (source?.case !== "upload") throw new Error("the stage names no source (git or uploaded)");
    await mkdir(dir, { recursive: true });
    const call = this.client().getRunSource({ runId: a.runId });
    signal.addEventListener("abort", () => call.cancel(), { once: true });
    const bytes = Readable.from(
      (async function* () {
        for await (const chunk of call) yield Buffer.from((chunk as { data: Uint8Array }).data);
      })(),
    );
    // tar-fs refuses entries that would land outside `dir` (no ../ or absolute paths).
    await pipeline(bytes, tar.extract(dir, { readable: true, writable: true }));
    return { dir, commit: "" };
  }
}

const safe = (id: string) => id.replace(/[^0-9a-zA-Z-]/g, "_");
