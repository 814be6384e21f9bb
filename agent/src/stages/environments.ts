// The temporary environments on this agent's engine: torn down when their run
// ends (a failed run's are kept until their TTL when the stage asked so), and
// reaped from their labels alone when the TTL passed, also after a restart.
import type Docker from "dockerode";
import type { Logger } from "pino";
import { downEnvironment, listEnvironments, reapExpired } from "../docker/environment";

export class Environments {
  private readonly keepOnFailure = new Map<string, boolean>();
  private live = new Set<string>();

  constructor(
    private readonly docker: Docker | null,
    private readonly agentId: () => string,
    private readonly log: Logger,
  ) {}

  /** Ids alive on the engine as last seen (the heartbeat reports them). */
  get ids(): string[] {
    return [...this.live];
  }

  started(runId: string, envId: string, keepOnFailure: boolean): void {
    this.live.add(envId);
    this.keepOnFailure.set(envId, keepOnFailure);
  }

  /** The run ended: remove its environments (unless kept for a failed run). */
  async runEnded(runId: string, state: string): Promise<void> {
    if (!this.docker) return;
    for (const env of (await listEnvironments(this.docker)).filter((e) => e.runId === runId && e.agentId === this.agentId())) {
      if (state !== "succeeded" && this.keepOnFailure.get(env.envId)) {
        this.log.info({ envId: env.envId, runId }, "environment kept after a failed run until its TTL");
        continue;
      }
      await downEnvironment(this.docker, env.envId);
      this.live.delete(env.envId);
      this.log.info({ envId: env.envId, runId }, "environment removed: its run ended");
    }
  }

  /** Remove expired environments and refresh the live list; run at start and on a timer. */
  async sweep(now = new Date()): Promise<void> {
    if (!this.docker) return;
    for (const id of await reapExpired(this.docker, now)) this.log.warn({ envId: id }, "environment reaped: its TTL passed");
    this.live = new Set((await listEnvironments(this.docker)).filter((e) => e.agentId === this.agentId()).map((e) => e.envId));
  }
}
