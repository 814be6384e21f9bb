// One agent process: registers, keeps its session alive, runs the attempts
// the server assigns (NATS wake-up or gRPC poll), reaps containers it no
// longer owns, replays its spool after a restart, and drains on request.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { sessionKey, type Assignment } from "@dockyard/proto";
import type { Logger } from "pino";
import type { AgentConfig } from "./config";
import type { Executor } from "./executor/types";
import { AttemptRunner } from "./runner";
import { createAgentClient, type AgentClient, type Session } from "./transport/agent-client";
import { AttemptMux } from "./transport/attempt-mux";
import { NatsSession, RegistrationRefusedError } from "./transport/nats-session";
import { replaySpools } from "./spool-replay";
import { SpoolJournal } from "./logs/spool";

export interface AgentDeps {
  log: Logger;
  /** Executors by name; the first is the default for stages that name none. */
  executors: Executor[];
}

export class Agent {
  private nc!: NatsConnection;
  private nats!: NatsSession;
  private client!: AgentClient;
  /** The one AttemptStream every attempt reports on. */
  private mux!: AttemptMux;
  private session: Session = { agentId: "", sessionToken: "" };
  /** Key the server signs our NATS assignments and cancels with. */
  private signingKey = "";
  private readonly runners = new Map<string, AttemptRunner>();
  /** Ended runs whose workspace waits for our last runner of them. */
  private readonly endedRuns = new Set<string>();
  private timers: NodeJS.Timeout[] = [];
  private listener: { close(): void } | null = null;
  private draining = false;
  private drained: (() => void) | null = null;
  private heartbeatMs = 3000;
  private pollMs = 10_000;

  constructor(private readonly config: AgentConfig, private readonly deps: AgentDeps) {}

  get agentId(): string {
    return this.session.agentId;
  }

  get running(): number {
    return this.runners.size;
  }

  private journal: SpoolJournal | null = null;

  private get spoolDir(): string {
    return path.join(this.config.stateDir, "spool");
  }

  async start(): Promise<void> {
    this.journal = SpoolJournal.open(this.spoolDir);
    for (const e of this.deps.executors) e.warmUp?.();
    this.nc = await connect({ servers: this.config.natsUrl, name: `dockyard-agent-${this.config.name}`, maxReconnectAttempts: -1 });
    this.nats = new NatsSession(this.nc, this.config.natsPrefix, this.deps.log);
    await this.registerWithRetry();
    this.client = createAgentClient(this.config.serverUrl, () => this.session);
    this.mux = new AttemptMux(this.client);
    await this.reapOrphans(true);
    this.listener = this.nats.listen(this.session.agentId, () => this.signingKey, (a) => this.accept(a), (c) => {
      this.runners.get(c.attemptId)?.stop("canceled", c.reason || "canceled by server");
    }, (runId) => this.runEnded(runId));
    await replaySpools(this.journal, this.mux, this.deps.log);
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatMs).unref());
    this.timers.push(setInterval(() => void this.poll(), this.pollMs).unref());
    await this.poll();
    this.deps.log.info({ agentId: this.session.agentId, name: this.config.name, executors: this.deps.executors.map((e) => e.name) }, "agent started");
  }

  private loadAgentId(): string {
    const file = path.join(this.config.stateDir, "agent.json");
    if (!existsSync(file)) return "";
    try {
      return String((JSON.parse(readFileSync(file, "utf8")) as { agentId?: string }).agentId ?? "");
    } catch {
      return "";
    }
  }

  private async registerWithRetry(): Promise<void> {
    const agentId = this.session.agentId || this.loadAgentId();
    for (let attempt = 0; ; attempt++) {
      try {
        const accepted = await this.nats.register({
          joinToken: this.config.joinToken, agentId, name: this.config.name, labels: this.config.labels,
          capacity: this.config.capacity, executors: this.deps.executors.map((e) => e.name),
        });
        this.session = { agentId: accepted.agentId, sessionToken: accepted.sessionToken };
        this.signingKey = sessionKey(accepted.sessionToken);
        this.heartbeatMs = Number(accepted.heartbeatIntervalMs) || 3000;
        this.pollMs = Number(accepted.pollIntervalMs) || 10_000;
        writeFileSync(path.join(this.config.stateDir, "agent.json"), JSON.stringify({ agentId: accepted.agentId }));
        // The shared attempt stream was authenticated with the old session.
        this.mux?.reset();
        return;
      } catch (err) {
        if (err instanceof RegistrationRefusedError) throw err;
        const delay = Math.min(5000, 200 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
        this.deps.log.warn({ err: (err as Error).message, retryInMs: Math.round(delay) }, "registration failed; retrying");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private executorFor(a: Assignment): Executor | undefined {
    const name = a.spec?.executor;
    return name ? this.deps.executors.find((e) => e.name === name) : this.deps.executors[0];
  }

  /** Start an assignment unless it already runs, we drain, or we are full. */
  private accept(a: Assignment): void {
    if (this.runners.has(a.attemptId) || this.draining) return;
    this.deps.log.debug({ attemptId: a.attemptId }, "assignment received");
    // The server's slot accounting is the authority: its next assignment can arrive (NATS)
    // before the ack that ended the previous attempt (gRPC), so only a clear overload is refused.
    const busy = [...this.runners.values()].filter((r) => r.holdsSlot).length;
    if (busy >= this.config.capacity * 2) {
      this.deps.log.warn({ attemptId: a.attemptId, busy }, "assignment over twice the capacity ignored");
      return;
    }
    const executor = this.executorFor(a);
    if (!executor) {
      this.deps.log.error({ attemptId: a.attemptId, executor: a.spec?.executor }, "no such executor on this agent");
      return;
    }
    const runner = new AttemptRunner(a, {
      mux: this.mux, executor, agentId: this.session.agentId, journal: this.journal!, log: this.deps.log,
    });
    this.runners.set(a.attemptId, runner);
    runner.run()
      .catch((err: unknown) => this.deps.log.error({ err, attemptId: a.attemptId }, "attempt runner crashed"))
      .finally(() => {
        this.runners.delete(a.attemptId);
        if (this.endedRuns.has(a.runId)) this.runEnded(a.runId);
        if (this.draining && this.runners.size === 0) this.drained?.();
      });
  }

  /**
   * A run ended: remove its workspace here, now or once our last runner of it
   * is done. (A lost broadcast leaves the workspace behind; see the notes.)
   */
  private runEnded(runId: string): void {
    if ([...this.runners.values()].some((r) => r.assignment.runId === runId)) {
      this.endedRuns.add(runId);
      return;
    }
    this.endedRuns.delete(runId);
    for (const e of this.deps.executors) {
      e.removeWorkspace(runId).catch((err: unknown) => this.deps.log.warn({ err, runId }, "workspace removal failed"));
    }
  }

  private async heartbeat(): Promise<void> {
    try {
      const ok = await this.nats.heartbeat(this.session.agentId, this.session.sessionToken, [...this.runners.keys()], this.draining);
      if (!ok) {
        await this.registerWithRetry();
        if (this.draining) await this.client.setDraining({ draining: true }, { timeoutMs: 5000 });
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "heartbeat failed");
    }
  }

  /** Ask the server what we own: start missed assignments, stop what is no longer ours. */
  async poll(): Promise<void> {
    try {
      // Only runners that existed before the request can be judged by its answer: one
      // assigned meanwhile (NATS) may be missing from it and must not be stopped.
      const before = new Set(this.runners.keys());
      const res = await this.client.pollAssignments({}, { timeoutMs: 5000 });
      const owned = new Set(res.ownedAttemptIds);
      for (const [id, runner] of this.runners) {
        if (before.has(id) && !owned.has(id) && runner.holdsSlot) {
          this.deps.log.info({ attemptId: id }, "attempt no longer ours; stopping it");
          runner.stop("rejected", "the server no longer assigns this attempt to us");
        }
      }
      for (const a of res.assignments) this.accept(a);
      await this.reapOrphans(false);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "poll failed");
    }
  }

  /** Remove containers labelled with our agent id that no runner of ours owns. */
  private async reapOrphans(atStart: boolean): Promise<void> {
    for (const executor of this.deps.executors) {
      const owned = await executor.listOwned(this.session.agentId).catch(() => []);
      for (const c of owned) {
        if (this.runners.has(c.attemptId)) continue;
        this.deps.log.warn({ attemptId: c.attemptId, running: c.running, atStart }, "reaping orphaned container");
        await executor.reap(c.attemptId).catch((err: unknown) => this.deps.log.error({ err }, "reap failed"));
      }
    }
  }

  /** Finish running attempts, take no new ones, then stop. */
  async drain(): Promise<void> {
    this.draining = true;
    this.deps.log.info({ running: this.runners.size }, "draining");
    await this.client.setDraining({ draining: true }, { timeoutMs: 5000 }).catch((err: unknown) =>
      this.deps.log.warn({ err: (err as Error).message }, "could not tell the server we drain"));
    if (this.runners.size > 0) await new Promise<void>((r) => (this.drained = r));
    await this.stop();
  }

  /** Stop every attempt now (reported as lost, so stages that allow it are retried elsewhere), then stop. */
  async abort(): Promise<void> {
    this.draining = true;
    for (const r of this.runners.values()) r.stop("lost", "agent was shut down");
    const deadline = Date.now() + 10_000;
    while (this.runners.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await this.stop();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.listener?.close();
    if (this.client) {
      // Best effort: tell the server now instead of letting it wait for the heartbeat timeout.
      await this.client.leave({}, { timeoutMs: 2000 }).catch((err: unknown) =>
        this.deps.log.warn({ err: (err as Error).message }, "could not tell the server we leave"));
      this.mux.close();
      this.client.close();
    }
    await this.nc?.drain().catch(() => undefined);
    await Promise.all(this.deps.executors.map((e) => e.close?.()));
    this.journal?.close();
    this.journal = null;
  }
}
