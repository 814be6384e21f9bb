// One agent process: registers over gRPC/TLS with its own key, keeps its
// session alive, runs the attempts the server assigns (a signed NATS wake-up,
// then the assignment fetched over gRPC; or a gRPC poll), reaps containers it
// no longer owns, replays its spool after a restart, and drains on request.
import path from "node:path";
import type { KeyObject } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { publicKeyFromRaw, type Assignment, type KeyPair } from "@dockyard/proto";
import type { Logger } from "pino";
import type { AgentConfig } from "./config";
import type { Executor } from "./executor/types";
import { AttemptRunner } from "./runner";
import { createAgentClient, type AgentClient, type Session } from "./transport/agent-client";
import { AttemptMux } from "./transport/attempt-mux";
import { NoticeListener } from "./transport/notice-listener";
import { register, RegistrationRefusedError } from "./transport/register";
import { serverCredentials } from "./transport/server-trust";
import { CredentialSource, loadAgentKey } from "./identity/agent-key";
import { replaySpools } from "./spool-replay";
import { SpoolJournal } from "./logs/spool";
import { Supervisor } from "./supervisor/client";
import { capabilitiesOf, stageFor, type StageTools } from "./stages/index";
import { createStageTools, startHousekeeping } from "./stages/stage-tools";
import { loadAgentId, saveAgentId } from "./identity/agent-id";
import { Workspaces } from "./workspaces";
import { MAX_HELD_RESOURCES, type ResourceHolder } from "./resources";
import { Backoff, BACKOFF, isRetryable } from "./retry";
import { LeaseFence } from "./lease/fence";

export interface AgentDeps {
  log: Logger;
  /** Executors by name; the first is the default for stages that name none. */
  executors: Executor[];
  /**
   * The server refused this agent for good (revoked, its join token revoked, its id
   * taken by another key): running attempts were stopped. Default: log it.
   */
  onRefused?: (err: RegistrationRefusedError) => void;
}

export class Agent {
  private nc!: NatsConnection;
  private notices!: NoticeListener;
  private client!: AgentClient;
  private key!: KeyPair;
  /** The one AttemptStream every attempt reports on. */
  private mux!: AttemptMux;
  private session: Session = { agentId: "", sessionId: "" };
  /** Key the server signs our NATS notices with, learnt at registration over TLS. */
  private serverKey: KeyObject | null = null;
  /** Attempts whose assignment is being fetched (a wake-up and a poll may race). */
  private readonly fetching = new Set<string>();
  private readonly runners = new Map<string, AttemptRunner>();
  /** The runs' workspaces here: found on disk and engine, reported in heartbeats, removed once their run ended. */
  private readonly workspaces: Workspaces;
  /** What it holds beyond stages (environments, service replicas and proxies), reported whole in every heartbeat. */
  private readonly holders: ResourceHolder[];
  private timers: NodeJS.Timeout[] = [];
  private listener: { close(): void } | null = null;
  private draining = false;
  private drained: (() => void) | null = null;
  private heartbeatMs = 3000;
  private pollMs = 10_000;

  /** What the stage kinds work with (executors, the engine, the runs' sources, environments). */
  private readonly tools: StageTools;

  constructor(
    private readonly config: AgentConfig,
    private readonly deps: AgentDeps,
  ) {
    this.tools = createStageTools(
      config,
      deps.executors,
      () => this.client,
      () => this.session.agentId,
      deps.log,
    );
    const inUse = (runId: string) => [...this.runners.values()].some((r) => r.assignment.runId === runId);
    this.workspaces = new Workspaces(deps.executors, this.tools.sources, () => this.session.agentId, inUse, deps.log);
    this.tools.environments.useRunners(inUse);
    this.holders = [this.tools.environments, this.tools.services];
  }

  get agentId(): string {
    return this.session.agentId;
  }

  get running(): number {
    return this.runners.size;
  }

  /** NATS notices dropped as forged, replayed, expired or misdirected. */
  get refusedNotices(): number {
    return this.notices?.refused ?? 0;
  }

  private journal: SpoolJournal | null = null;
  /** Stops our running stages if this process dies or freezes (supervisor/supervisor.mjs). */
  private supervisor: Supervisor | null = null;
  /** Stops an attempt whose lease it could not renew while a server may be live (lease/fence.ts). */
  private fence: LeaseFence | null = null;

  private get spoolDir(): string {
    return path.join(this.config.stateDir, "spool");
  }

  async start(): Promise<void> {
    this.journal = SpoolJournal.open(this.spoolDir);
    this.supervisor = new Supervisor({ dockerHost: this.config.dockerHost, log: this.deps.log });
    this.supervisor.start();
    this.fence = new LeaseFence({ servers: this.config.servers, enabled: this.config.fence, log: this.deps.log });
    this.fence.start();
    for (const e of this.deps.executors) e.warmUp?.();
    this.key = loadAgentKey(this.config.stateDir);
    const credentials = await serverCredentials(this.config, this.deps.log);
    this.client = createAgentClient(
      this.config.servers,
      credentials,
      () => this.session,
      new CredentialSource(this.key),
    );
    this.nc = await connect({
      servers: this.config.natsUrl,
      name: `dockyard-agent-${this.config.name}`,
      maxReconnectAttempts: -1,
    });
    this.notices = new NoticeListener(this.nc, this.config.natsPrefix, this.deps.log);
    await this.registerWithRetry();
    this.mux = new AttemptMux(this.client, (a) => {
      if (!this.fetching.has(a.attemptId)) this.accept(a);
    });
    await this.reapOrphans(true);
    // Before the first heartbeat: what an earlier process of ours (or a dead agent on our engine) left.
    await Promise.all([this.workspaces.refresh(), ...this.holders.map((h) => h.refresh())]);
    this.notices.listen(this.session.agentId, () => this.serverKey, {
      onAssign: (attemptId) => void this.fetch(attemptId),
      onCancel: (attemptId, reason) => this.runners.get(attemptId)?.stop("canceled", reason || "canceled by server"),
      onRunEnded: (runId, state) => this.runEnded(runId, state),
    });
    this.listener = this.notices;
    this.mux.keepOpen();
    // In the background: a server that is down now gets the backlog when it is back.
    replaySpools(this.journal, this.mux, this.deps.log).catch((err: unknown) =>
      this.deps.log.error({ err }, "spool replay failed"),
    );
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatMs).unref());
    this.timers.push(setInterval(() => void this.poll(), this.pollMs).unref());
    await this.poll();
    this.timers.push(await startHousekeeping(this.tools, this.deps.log));
    this.deps.log.info(
      { agentId: this.session.agentId, name: this.config.name, capabilities: capabilitiesOf(this.tools) },
      "agent started",
    );
  }

  private async registerWithRetry(): Promise<void> {
    const agentId = this.session.agentId || loadAgentId(this.config.stateDir);
    const backoff = new Backoff(BACKOFF.register);
    for (;;) {
      try {
        const accepted = await register(this.client, this.key, {
          joinToken: this.config.joinToken,
          agentId,
          name: this.config.name,
          labels: this.config.labels,
          capacity: this.config.capacity,
          capabilities: capabilitiesOf(this.tools),
          protocolVersion: this.config.protocolVersion,
        });
        this.serverKey = publicKeyFromRaw(accepted.serverSigningKey);
        this.session = { agentId: accepted.agentId, sessionId: accepted.sessionId };
        this.heartbeatMs = Number(accepted.heartbeatIntervalMs) || 3000;
        this.pollMs = Number(accepted.pollIntervalMs) || 10_000;
        saveAgentId(this.config.stateDir, accepted.agentId);
        // The shared attempt stream was authenticated with the old session.
        this.mux?.reset();
        return;
      } catch (err) {
        if (!isRetryable(err)) throw err;
        const delay = backoff.next();
        this.deps.log.warn(
          { err: (err as Error).message, retryInMs: Math.round(delay) },
          "registration failed; retrying",
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * A signed wake-up named an attempt: fetch its assignment over gRPC. The server's
   * answer confirms the attempt and its lease; nothing starts before it.
   */
  private async fetch(attemptId: string): Promise<void> {
    if (this.runners.has(attemptId) || this.fetching.has(attemptId) || this.draining) return;
    this.fetching.add(attemptId);
    try {
      const { assignment } = await this.client.getAssignment({ attemptId }, { timeoutMs: 5000 });
      if (assignment && assignment.attemptId === attemptId) this.accept(assignment);
    } catch (err) {
      this.deps.log.warn({ attemptId, err: (err as Error).message }, "assignment not fetched; the next poll retries");
    } finally {
      this.fetching.delete(attemptId);
    }
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
    const stage = stageFor(a.spec?.kind?.case);
    if (!stage) {
      this.deps.log.error(
        { attemptId: a.attemptId, kind: a.spec?.kind?.case },
        "no handler for this stage kind on this agent",
      );
      return;
    }
    const runner = new AttemptRunner(a, {
      mux: this.mux,
      stage,
      tools: this.tools,
      agentId: this.session.agentId,
      journal: this.journal!,
      log: this.deps.log,
      supervisor: this.supervisor ?? undefined,
      fence: this.fence ?? undefined,
    });
    this.runners.set(a.attemptId, runner);
    runner
      .run()
      .catch((err: unknown) => this.deps.log.error({ err, attemptId: a.attemptId }, "attempt runner crashed"))
      .finally(() => {
        this.runners.delete(a.attemptId);
        this.workspaces.runnerDone(a.runId);
        for (const h of this.holders) h.runnerDone(a.runId);
        if (this.draining && this.runners.size === 0) this.drained?.();
      });
  }

  /** A run ended (a NATS notice, or a heartbeat answer, maybe many times): its workspace and resources go. */
  private runEnded(runId: string, state: string): void {
    this.workspaces.runEnded(runId);
    for (const h of this.holders) h.runEnded(runId, state);
  }

  private async heartbeat(): Promise<void> {
    try {
      const workspaces = this.workspaces.report;
      const res = await this.client.heartbeat(
        {
          runningAttemptIds: [...this.runners.keys()],
          draining: this.draining,
          resources: this.holders
            .flatMap((h) => h.held())
            .slice(0, MAX_HELD_RESOURCES)
            .map((r) => ({ ...r, createdAtMs: BigInt(r.createdAtMs), expiresAtMs: BigInt(r.expiresAtMs) })),
          buildCacheBytes: BigInt(this.tools.buildCache.bytes),
          workspaceRunIds: workspaces.own,
          foreignWorkspaceRunIds: workspaces.foreign,
        },
        { timeoutMs: 3000 },
      );
      // The server's word on which runs ended reaches us even when its NATS notice was lost.
      for (const r of res.endedRuns) this.runEnded(r.runId, r.state);
      void this.workspaces.refresh();
      // A replica that died shows in the next heartbeat (environments have their own sweep).
      void this.tools.services.refresh();
    } catch (err) {
      const code = (err as grpc.ServiceError).code;
      if (code !== grpc.status.UNAUTHENTICATED && code !== grpc.status.FAILED_PRECONDITION) {
        this.deps.log.warn({ err: (err as Error).message }, "heartbeat failed");
        return;
      }
      // Our session ended (declared lost, replaced, revoked): register again, or stop for good.
      this.deps.log.warn({ err: (err as Error).message }, "session refused; registering again");
      try {
        await this.registerWithRetry();
        if (this.draining) await this.client.setDraining({ draining: true }, { timeoutMs: 5000 });
      } catch (refused) {
        if (refused instanceof RegistrationRefusedError) this.refused(refused);
        else this.deps.log.warn({ err: (refused as Error).message }, "registration failed");
      }
    }
  }

  /** The server will not have us back: stop every attempt (the server ended them already) and tell the owner. */
  private refused(err: RegistrationRefusedError): void {
    this.deps.log.error({ code: err.code, reason: err.message }, "agent refused by the server; stopping its attempts");
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.draining = true;
    for (const r of this.runners.values()) r.stop("rejected", "the server revoked this agent");
    this.deps.onRefused?.(err);
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
      for (const a of res.assignments) if (!this.fetching.has(a.attemptId)) this.accept(a);
      await this.reapOrphans(false);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, "poll failed");
    }
  }

  /** Remove containers labelled with our agent id, and output directories, that no runner of ours owns. */
  private async reapOrphans(atStart: boolean): Promise<void> {
    try {
      const gone = this.tools.outputs.reap(new Set(this.runners.keys()));
      if (gone.length > 0) this.deps.log.warn({ attemptIds: gone, atStart }, "reaped orphaned output directories");
    } catch (err) {
      this.deps.log.warn({ err }, "output directory reap failed");
    }
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
    await this.client
      .setDraining({ draining: true }, { timeoutMs: 5000 })
      .catch((err: unknown) =>
        this.deps.log.warn({ err: (err as Error).message }, "could not tell the server we drain"),
      );
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
      await this.client
        .leave({}, { timeoutMs: 2000 })
        .catch((err: unknown) =>
          this.deps.log.warn({ err: (err as Error).message }, "could not tell the server we leave"),
        );
      this.mux.close();
      this.client.close();
    }
    await this.nc?.drain().catch(() => undefined);
    await Promise.all(this.deps.executors.map((e) => e.close?.()));
    this.journal?.close();
    this.journal = null;
    this.fence?.stop();
    // Last: what still runs was left on purpose (a restarted agent reaps it), not to be killed.
    await this.supervisor?.close();
  }
}
