// The engine's BuildKit cache, kept within the agent's budget
// (DOCKYARD_BUILD_CACHE_BYTES): pruned after every build, oldest first (the
// engine's keep-storage prune), and measured for the heartbeat (the server's
// dockyard_build_cache_bytes gauge).
import type Docker from "dockerode";
import type { Logger } from "pino";

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
    try {
      const df = (await this.docker.df()) as { BuildCache?: { Size?: number }[] | null };
      this.measured = (df.BuildCache ?? []).reduce((n, r) => n + (r.Size ?? 0), 0);
    } catch (err) {
      this.log.warn({ err }, "build cache not measured");
    }
    return this.measured;
  }

  private async prune(): Promise<void> {
    if (!this.docker) return;
    try {
      const freed = await new Promise<unknown>((resolve, reject) =>
        (this.docker!.modem as unknown as Modem).dial(
          { path: "/build/prune?", method: "POST", options: { "keep-storage": this.budgetBytes }, statusCodes: { 200: true, 500: "server error" } },
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
      const reclaimed = Number((freed as { SpaceReclaimed?: number } | null)?.SpaceReclaimed ?? 0);
      if (reclaimed > 0) this.log.info({ reclaimedBytes: reclaimed, budgetBytes: this.budgetBytes }, "build cache pruned to its budget");
    } catch (err) {
      this.log.warn({ err }, "build cache prune failed");
    }
    await this.measure();
  }
}
