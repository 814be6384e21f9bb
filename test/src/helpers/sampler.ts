// The copy sampler: every 0.25 s it records every live copy of a run's stages, as the
// operator's check did: processes by their stage environment (DOCKYARD_RUN_ID,
// DOCKYARD_STAGE, DOCKYARD_ATTEMPT_ID in /proc/PID/environ) and containers by their
// labels. Two attempts of one stage alive in the same sample is an overlap. Marker
// files (one per attempt, a line per step executed) tell what each copy executed.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { tempDir } from "@dockyard/testkit";

export interface SamplerReport {
  /** Samples taken. */
  samples: number;
  /** Samples in which some stage had two or more live attempts. */
  overlapSamples: number;
  /** Longest overlap seen, in ms (consecutive overlapping samples). */
  overlapMs: number;
  /** Stage name -> the largest number of its attempts alive at once. */
  maxCopies: Record<string, number>;
  /** Stage name -> every attempt id seen alive. */
  seen: Record<string, string[]>;
  /** Attempt id -> when it was first and last seen alive (ms since the epoch). */
  spans: Record<string, [number, number]>;
}

/** Live processes (not zombies) of `runId`: attempt id and stage name from their environment. */
export function liveStageProcesses(runId: string): { attemptId: string; stage: string }[] {
  const out: { attemptId: string; stage: string }[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/stat`, "latin1").includes(") Z ")) continue;
      const env = readFileSync(`/proc/${p}/environ`, "utf8").split("\0");
      if (!env.includes(`DOCKYARD_RUN_ID=${runId}`)) continue;
      const get = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1) ?? "";
      out.push({ attemptId: get("DOCKYARD_ATTEMPT_ID"), stage: get("DOCKYARD_STAGE") });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

export class CopySampler {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private readonly report: SamplerReport = {
    samples: 0,
    overlapSamples: 0,
    overlapMs: 0,
    maxCopies: {},
    seen: {},
    spans: {},
  };
  private overlapSince: number | null = null;

  constructor(
    private readonly runId: string,
    docker: Docker | readonly Docker[] | null = null,
    private readonly intervalMs = 250,
  ) {
    // Several engines: one per agent host of a namespace farm (netns-farm.ts).
    this.engines = docker === null ? [] : Array.isArray(docker) ? [...docker] : [docker as Docker];
  }

  private readonly engines: Docker[];

  start(): this {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    return this;
  }

  /** Stop sampling and report what was seen. */
  stop(): SamplerReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.report;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const copies = liveStageProcesses(this.runId);
      for (const engine of this.engines) {
        const containers = await engine.listContainers({
          filters: { label: [`dockyard.run=${this.runId}`], status: ["running"] },
        });
        for (const c of containers)
          copies.push({ attemptId: c.Labels["dockyard.attempt"] ?? "", stage: c.Labels["dockyard.stage"] ?? "" });
      }
      const byStage = new Map<string, Set<string>>();
      for (const c of copies) {
        if (!c.stage) continue;
        if (!byStage.has(c.stage)) byStage.set(c.stage, new Set());
        byStage.get(c.stage)!.add(c.attemptId);
      }
      const r = this.report;
      r.samples++;
      const now = Date.now();
      for (const c of copies) r.spans[c.attemptId] = [r.spans[c.attemptId]?.[0] ?? now, now];
      let overlap = false;
      for (const [stage, ids] of byStage) {
        r.maxCopies[stage] = Math.max(r.maxCopies[stage] ?? 0, ids.size);
        r.seen[stage] = [...new Set([...(r.seen[stage] ?? []), ...ids])];
        if (ids.size > 1) overlap = true;
      }
      if (overlap) {
        r.overlapSamples++;
        this.overlapSince ??= now;
        r.overlapMs = Math.max(r.overlapMs, now - this.overlapSince + this.intervalMs);
      } else {
        this.overlapSince = null;
      }
    } finally {
      this.busy = false;
    }
  }
}

/**
 * A directory for marker files and the shell loop that writes them: `steps` numbered lines,
 * one every `stepMs`, each appended to `$MARK/<stage>.<attempt>` as it executes (and echoed).
 */
export function markerDir(): { dir: string; read(): Record<string, string[]>; remove(): void } {
  const dir = tempDir("marks");
  return {
    dir,
    /** File name (`stage.attempt`) -> the lines it holds. */
    read: () =>
      Object.fromEntries(
        readdirSync(dir).map((f) => [f, readFileSync(path.join(dir, f), "utf8").split("\n").filter(Boolean)]),
      ),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function markedSteps(steps: number, stepMs: number): string {
  const sleep = (stepMs / 1000).toFixed(2);
  return `for i in $(seq 1 ${steps}); do echo "$i" >> "$MARK/$DOCKYARD_STAGE.$DOCKYARD_ATTEMPT"; echo "step $i"; sleep ${sleep}; done`;
}
