// Implements the web package's WebServices on top of RunsService and, for users, the audit log
// and channels, the same store and NotifyService functions the gRPC handlers call: rows are
// converted to the public JSON views here.
import type { Registry } from "prom-client";
import type {
  AgentView,
  ArtifactView,
  AuditEntryView,
  ChannelView,
  LiveWebServices,
  NotificationView,
  RunView,
  UserView,
  WebServices,
} from "@dockyard/web";
import type { RunsService } from "./runs-service";
import { actorOf } from "./transport/grpc/caller";
import { isDbUnavailable } from "./store/db";
import { DockyardError } from "./errors";
import type { RunWithStages } from "./store/runs";
import type { AgentWithUsage as AgentRow } from "./store/agents";
import { outputsSummary } from "./stages/summary";
import { receiveHookDecision, type HookDecisionDeps } from "./hooks/inbound";
import { receiveGitPush } from "./git-hooks/push-receiver";
import type { RepoStore } from "./git-hooks/repo-store";
import type { Db } from "./store/db";
import type { Clock } from "./clock";
import { addUser, disableUser, listUsers, type UserInfo } from "./store/users";
import { auditPage, type AuditRow } from "./store/audit";
import type { NotifyService, DeliveryView } from "./notify/service";
import type { ChannelInfo } from "./notify/channels";
import type { AlertReceiver } from "./alerts/receiver";
import { alertView, listAlerts } from "./alerts/alert-store";
import { DEFAULT_ALERTS_LIMIT } from "@dockyard/web";
import { ArtifactsApi } from "./artifacts-api";
import type { ArtifactInfo } from "./store/artifacts";
import type { ScheduleService } from "./schedules/schedule-service";
import { scheduleWebServices } from "./web-schedules";

/** What the user, audit, channel and alert routes act on: the same functions the gRPC handlers call. */
export interface AdminDeps {
  db: Db;
  clock: Clock;
  notify: NotifyService;
  alerts: AlertReceiver;
  /** Git repositories whose pushes start runs (POST /hooks/v1/git/:name). */
  repos: RepoStore;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function runView(run: RunWithStages): RunView {
  return {
    id: run.id,
    name: run.name,
    state: run.state,
    startedBy: run.startedByName || null,
    source: run.source || null,
    branch: run.branch || null,
    commit: run.commit || null,
    createdAt: run.createdAt.toISOString(),
    finishedAt: iso(run.finishedAt),
    durationMs: run.finishedAt ? run.finishedAt.getTime() - run.createdAt.getTime() : null,
    stages: run.stages.map((s) => ({
      id: s.id,
      name: s.name,
      type: s.type,
      state: s.state,
      needs: s.needs,
      attempts: s.attempts,
      exitCode: s.exitCode,
      reason: s.reason || null,
      agentId: s.agentId || null,
      startedAt: iso(s.startedAt),
      finishedAt: iso(s.finishedAt),
      attemptHistory: s.attemptHistory.map((a) => ({
        number: a.number,
        state: a.state,
        agentId: a.agentId || null,
        agentName: a.agentName || null,
        assignedAt: iso(a.assignedAt),
        startedAt: iso(a.startedAt),
        finishedAt: iso(a.finishedAt),
        exitCode: a.exitCode,
        reason: a.reason || null,
      })),
      outputs: s.outputs
        ? {
            values: s.outputs.values,
            image: s.outputs.image ? { ...s.outputs.image, digest: s.outputs.image.digest || null } : null,
            tests: s.outputs.tests ?? null,
            summary: outputsSummary(s.type, s.outputs) || null,
          }
        : null,
    })),
  };
}

export function agentView(a: AgentRow): AgentView {
  return {
    id: a.id,
    name: a.name,
    hostname: a.hostname || null,
    state: a.state,
    labels: a.labels,
    capacity: a.capacity,
    slotsUsed: a.slotsUsed,
    lastHeartbeatAt: a.lastHeartbeatAt.toISOString(),
    version: a.version || null,
    capabilities: a.capabilities,
    revokedAt: iso(a.revokedAt),
    drainRequestedAt: iso(a.drainRequestedAt),
  };
}

export function userView(u: UserInfo): UserView {
  return {
    name: u.name,
    roles: u.roles,
    createdAt: u.createdAt.toISOString(),
    disabledAt: iso(u.disabledAt),
    activeTokens: u.activeTokens,
  };
}

export function auditEntryView(r: AuditRow): AuditEntryView {
  return { id: r.id, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, details: r.details };
}

/** Never a credential: ChannelInfo carries none (its target is the URL or SMTP host and recipients). */
export function channelView(c: ChannelInfo): ChannelView {
  return {
    name: c.name,
    type: c.type,
    target: c.target,
    createdAt: c.createdAt.toISOString(),
    disabledAt: iso(c.disabledAt),
    disabledReason: c.disabledReason || null,
  };
}

export function notificationView(v: DeliveryView): NotificationView {
  const r = v.row;
  return {
    id: r.id,
    channel: r.channel,
    event: r.event,
    runId: r.runId || null,
    subject: v.subject,
    state: r.state,
    createdAt: r.createdAt.toISOString(),
    nextAttemptAt: r.state === "pending" ? r.nextAttemptAt.toISOString() : null,
    finishedAt: iso(r.finishedAt),
    attempts: v.attempts.map((a) => ({
      number: a.number,
      at: a.at.toISOString(),
      result: a.result,
      statusCode: a.statusCode ?? null,
      error: a.error || null,
      durationMs: a.durationMs,
    })),
  };
}

/** Every service, with a database outage answered as `unavailable` (HTTP 503), not as an internal error. */
function unavailableOnDbOutage(services: WebServices): WebServices {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(services) as [string, (...a: unknown[]) => Promise<unknown>][]) {
    out[name] = (...args: unknown[]) =>
      fn(...args).catch((err: unknown) => {
        throw isDbUnavailable(err)
          ? new DockyardError("unavailable", "the database is unavailable; try again shortly", { cause: err })
          : err;
      });
  }
  return out as unknown as WebServices;
}

function artifactView(a: ArtifactInfo): ArtifactView {
  return {
    id: a.id,
    runId: a.runId,
    stage: a.stage,
    attempt: a.attemptNumber,
    name: a.name,
    contentType: a.contentType,
    size: a.size,
    sha256: a.sha256,
    createdAt: a.createdAt.toISOString(),
  };
}

export function webServices(
  runs: RunsService,
  registry: Registry,
  health: WebServices["health"],
  hooks: HookDecisionDeps,
  admin: AdminDeps,
  schedules: ScheduleService,
  live: LiveWebServices,
): WebServices {
  const { db, clock, notify, alerts, repos } = admin;
  const artifacts = new ArtifactsApi(db, runs);
  return unavailableOnDbOutage({
    ...scheduleWebServices(schedules),
    ...live,
    authenticate: (token) => runs.tokens.authenticate(token),
    submitRun: async (yaml, source, defaultName, caller) =>
      runView(await runs.submit(yaml, source, defaultName, {}, actorOf(caller))),
    getRun: async (id) => runView(await runs.get(id)),
    listRuns: async (query) => {
      const page = await runs.page(query);
      return { runs: page.runs.map(runView), more: page.more };
    },
    cancelRun: async (id, caller) => runView(await runs.cancel(id, actorOf(caller))),
    rerunRun: async (id, opts, caller) => runView(await runs.rerun(id, opts.failedOnly, actorOf(caller))),
    decideApproval: async (ref, stage, decision, caller) =>
      runView(await runs.decide(ref, stage, { ...decision, via: "http" }, caller)),
    hookDecision: async (req) => {
      const result = await receiveHookDecision(hooks, req);
      return { ...result, run: runView(await runs.get(result.run)) };
    },
    gitPush: async (req) => {
      const { runId, ...result } = await receiveGitPush({ db, repos, clock, runs }, req);
      return { ...result, run: runId ? runView(await runs.get(runId)) : null };
    },
    stageLog: async (ref, stage, opts) => runs.stageLog(ref, stage, opts),
    listAgents: async () => (await runs.agentAdmin.list()).map(agentView),
    removeAgent: async (id, caller) => ({ id, ...(await runs.agentAdmin.removeAgent(id, actorOf(caller))) }),
    drainAgent: async (id, drain, caller) => agentView(await runs.agentAdmin.drainAgent(id, drain, actorOf(caller))),
    revokeAgent: async (id, caller) => {
      const { attemptsLost } = await runs.agentAdmin.revokeAgent(id, actorOf(caller));
      return { agent: agentView((await runs.agentAdmin.list()).find((a) => a.id === id)!), attemptsLost };
    },
    listTokens: async () =>
      (await runs.tokens.list()).map((t) => ({
        id: t.id,
        kind: t.kind,
        user: t.user || null,
        description: t.description || null,
        createdAt: t.createdAt.toISOString(),
        lastUsedAt: iso(t.lastUsedAt),
        revokedAt: iso(t.revokedAt),
      })),
    listEnvironments: async () =>
      (await runs.environments()).map((e) => ({
        id: e.id,
        runId: e.runId,
        stage: e.stageName,
        agent: e.agentName || e.agentId,
        owner: e.owner,
        createdAt: iso(e.createdAt),
        expiresAt: iso(e.expiresAt),
        services: e.services,
      })),
    listServices: (name) => runs.services.list(name),
    serviceHistory: (name) => runs.services.history(name),
    rollbackService: (name, req, caller) => runs.services.rollback(name, { ...req, via: "http" }, caller),
    receiveAlerts: (payload) => alerts.receive(payload),
    listAlerts: async (opts) =>
      (await listAlerts(db, { state: opts.state, limit: opts.limit ?? DEFAULT_ALERTS_LIMIT })).map(alertView),
    listUsers: async () => (await listUsers(db)).map(userView),
    addUser: async (name, roles, caller) => userView(await addUser(db, name, roles, actorOf(caller), clock.now())),
    disableUser: async (name, caller) => {
      await disableUser(db, name, actorOf(caller), clock.now());
      return userView((await listUsers(db)).find((u) => u.name === name)!);
    },
    listAudit: async (opts) => (await auditPage(db, opts)).map(auditEntryView),
    listChannels: async () => (await notify.listChannels()).map(channelView),
    addChannel: async (input, caller) => {
      const secret = input.secret === undefined ? undefined : Buffer.from(input.secret, "utf8");
      try {
        const { info, key } = await notify.addChannel({ ...input, secret }, actorOf(caller));
        return { channel: channelView(info), webhookKey: key };
      } finally {
        secret?.fill(0);
      }
    },
    removeChannel: async (name, caller) => notify.removeChannel(name, actorOf(caller)),
    testChannel: async (name) => notificationView(await notify.test(name)),
    rotateChannelKey: async (name, windowSeconds, caller) => {
      const { key, previousValidUntil } = await notify.rotateKey(name, (windowSeconds ?? 0) * 1000, actorOf(caller));
      return { webhookKey: key, previousValidUntil: previousValidUntil.toISOString() };
    },
    listNotifications: async (opts) => (await notify.notifications(opts)).map(notificationView),
    listArtifacts: async (ref, stage) => (await artifacts.list(ref, stage)).map(artifactView),
    getArtifact: (id) => artifacts.get(id),
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    health,
  });
}
