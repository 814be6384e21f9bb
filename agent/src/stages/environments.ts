// The temporary environments on this agent's engine, as one kind of held resource (see
// ../resources.ts): torn down when their run ends, after our last stage of that run stopped
// using them (a failed run's are kept until their TTL when the stage asked so), and reaped
// from their labels alone when the TTL passed, also after a restart. The engine's labels
// are the whole truth: a restarted agent reports, keeps and removes exactly the same.
import type Docker from "dockerode";
import type { Logger } from "pino";
import { downEnvironment, listEnvironments, reapExpired, type EnvironmentSummary } from "../docker/environment";
import { ENVIRONMENT_RESOURCE } from "@dockyard/proto";
import type { HeldResource, ResourceHolder } from "../resources";

export class Environments implements ResourceHolder {
  private last: EnvironmentSummary[] = [];
  /** Scans run one after another, each starting after its call: a caller sees what was there when it asked. */
  private scans: Promise<void> = Promise.resolve();
  /** Ended runs (and their final state) whose environments wait for our last runner of the run. */
  private readonly waiting = new Map<string, string>();
  private readonly removing = new Set<string>();
  /** Environments kept after their run failed: said once, then left to the reaper. */
  private readonly kept = new Set<string>();
  private inUse: (runId: string) => boolean = () => false;

  constructor(
    private readonly docker: Docker | null,
    private readonly agentId: () => string,
    private readonly log: Logger,
  ) {}

  /** The agent's runners: an environment is not pulled from under a test still running on it. */
  useRunners(inUse: (runId: string) => boolean): void {
    this.inUse = inUse;
  }

  held(): HeldResource[] {
    return this.mine(this.last).map((e) => ({
      kind: ENVIRONMENT_RESOURCE,
      id: e.envId,
      runId: e.runId,
      createdAtMs: e.createdAt?.getTime() ?? 0,
      expiresAtMs: e.expiresAt?.getTime() ?? 0,
      attributes: {
        stage: e.stage,
        owner: e.owner,
        ...Object.fromEntries(e.services.map((s) => [`service.${s.name}`, s.address])),
      },
    }));
  }

  /** Look on the engine again. A failed scan keeps the last list. */
  refresh(): Promise<void> {
    const docker = this.docker;
    if (!docker) return Promise.resolve();
    this.scans = this.scans.then(() =>
      listEnvironments(docker).then(
        (envs) => {
          this.last = envs;
        },
        (err: unknown) => this.log.warn({ err }, "environment scan failed"),
      ),
    );
    return this.scans;
  }

  runEnded(runId: string, state: string): void {
    if (!this.docker) return;
    if (this.inUse(runId)) {
      this.waiting.set(runId, state);
      return;
    }
    this.waiting.delete(runId);
    const known = this.mine(this.last).filter((e) => e.runId === runId);
    // Every answer names a kept environment's run again: nothing to look at until the reaper.
    if (known.length > 0 && known.every((e) => this.kept.has(e.envId))) return;
    if (this.removing.has(runId)) return;
    this.removing.add(runId);
    void this.remove(runId, state)
      // The next heartbeat reports it again and the server answers again: that is the retry.
      .catch((err: unknown) => this.log.warn({ err, runId }, "environment teardown failed"))
      .finally(() => this.removing.delete(runId));
  }

  runnerDone(runId: string): void {
    const state = this.waiting.get(runId);
    if (state !== undefined) this.runEnded(runId, state);
  }

  /** Remove expired environments and refresh the list; run at start and on a timer. */
  async sweep(now = new Date()): Promise<void> {
    if (!this.docker) return;
    for (const id of await reapExpired(this.docker, now)) {
      this.kept.delete(id);
      this.log.warn({ envId: id }, "environment reaped: its TTL passed");
    }
    await this.refresh();
  }

  private async remove(runId: string, state: string): Promise<void> {
    const docker = this.docker!;
    for (const env of this.mine(await listEnvironments(docker)).filter((e) => e.runId === runId)) {
      if (state !== "succeeded" && env.keepOnFailure) {
        if (!this.kept.has(env.envId))
          this.log.info({ envId: env.envId, runId }, "environment kept after a failed run until its TTL");
        this.kept.add(env.envId);
        continue;
      }
      await downEnvironment(docker, env.envId);
      this.log.info({ envId: env.envId, runId }, "environment removed: its run ended");
    }
    await this.refresh();
  }

  private mine(envs: EnvironmentSummary[]): EnvironmentSummary[] {
    const me = this.agentId();
    return envs.filter((e) => e.agentId === me);
  }
}
