// The engine's BuildKit cache, kept within the agent's budget
// (DOCKYARD_BUILD_CACHE_BYTES): pruned after every build, oldest first (the
// engine's keep-storage prune), and measured for the heartbeat (the server's
// dockyard_build_cache_bytes gauge).
import type Docker from "dockerode";
import type { Logger } from "pino";

/** A disk-usage report the engine refuses while another runs is tried again this often. */
const MEASURE_TRIES = 20;

type Modem = { dial(opts: unknown, cb: (err: Error | null, res: unknown) => void): void };

export class BuildCache {
  private measured = 0;
  private pruning: Promise<void> | null = null;

  constructor(
    private readonly docker: Docker | null,
    private readonly budgetBytes: number,
    private readonly log: Logger,
  ) {}

  /** Bytes as last measured (0 before the first measure). */
  get bytes(): number {
    return this.measured;
  }

  /** After a build: prune beyond the budget, then measure. Never throws (logged). */
  afterBuild(): Promise<void> {
    this.pruning ??= this.prune().finally(() => (this.pruning = null));
    return this.pruning;
  }

  /** Measure the cache (the engine's disk usage report: slow on vfs, so only after builds and at start). */
  async measure(): Promise<number> {
    if (!this.docker) return 0;
    for (let tries = 1; tries <= MEASURE_TRIES; tries++) {
      if (await this.measureOnce(tries === MEASURE_TRIES)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return this.measured;
  }

  /** False when the engine was busy with another disk-usage report (it runs one at a time). */
  private async measureOnce(last: boolean): Promise<boolean> {
    try {
      // Records shared with images are those images' layers (counted with the images, and not
      // prunable while they exist): the cache is the rest, what a prune can reclaim.
      const df = (await this.docker!.df()) as { BuildCache?: { Size?: number; Shared?: boolean }[] | null };
      this.measured = (df.BuildCache ?? []).filter((r) => !r.Shared).reduce((n, r) => n + (r.Size ?? 0), 0);
      return true;
    } catch (err) {
      const busy = /disk usage operation is already running/.test(String(err));
      if (!busy || last) this.log.warn({ err }, "build cache not measured");
      return !busy;
    }
  }

  private async prune(): Promise<void> {
    if (!this.docker) return;
    try {
      const freed = await new Promise<unknown>((resolve, reject) =>
        (this.docker!.modem as unknown as Modem).dial(
          {
            path: "/build/prune?",
            method: "POST",
            options: { "keep-storage": this.budgetBytes },
            statusCodes: { 200: true, 500: "server error" },
          },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
      const reclaimed = Number((freed as { SpaceReclaimed?: number } | null)?.SpaceReclaimed ?? 0);
      if (reclaimed > 0)
        this.log.info({ reclaimedBytes: reclaimed, budgetBytes: this.budgetBytes }, "build cache pruned to its budget");
    } catch (err) {
      this.log.warn({ err }, "build cache prune failed");
    }
    await this.measure();
  }
}
