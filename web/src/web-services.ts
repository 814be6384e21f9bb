// The services the web app calls. The control plane implements them; each names the errors it
// rejects with (by `code`), which the app maps to HTTP statuses in one table (app.ts).
import type { RollbackView, ServiceHistoryView, ServiceView } from "./service-types";
import type { AlertmanagerPayload, AlertReceipt, AlertView } from "./alert-types";
import type { ArtifactContent, ArtifactView } from "./artifact-types";
import type { NewScheduleInput, ScheduleTickView, ScheduleView } from "./schedule-types";
import type { LiveRunEvent } from "./live-types";
import type { GitPushView, RunListQuery, RunView, StageLogView } from "./run-types";
import type { AgentView, AuditEntryView, EnvironmentView, TokenView, UserView } from "./farm-types";
import type { ChannelView, NewChannelInput, NotificationView } from "./channel-types";
import type { WebCaller } from "./http-types";

/** What the schedule routes call (the same ScheduleService the gRPC handlers call). */
export interface ScheduleWebServices {
  listSchedules(): Promise<ScheduleView[]>;
  /** Rejects with "not_found". */
  getSchedule(name: string): Promise<ScheduleView>;
  /** Rejects with "invalid" (name, cron, zone, pipeline: naming the problem), "conflict" (the name is taken). */
  createSchedule(input: NewScheduleInput, caller: WebCaller): Promise<ScheduleView>;
  /** Rejects with "not_found". */
  deleteSchedule(name: string, caller: WebCaller): Promise<void>;
  setScheduleEnabled(name: string, enabled: boolean, caller: WebCaller): Promise<ScheduleView>;
  /** Newest first: `limit` (unset: 50, at most 500). */
  scheduleTicks(name: string, limit?: number): Promise<ScheduleTickView[]>;
}

/** What the live routes call. */
export interface LiveWebServices {
  /**
   * The run `runRef` names, then its events after `afterSeq` (from Postgres, then live from any replica) until the
   * run ends or `signal` aborts. Rejects with "not_found" before anything is streamed. The iterable is pulled as fast
   * as it yields: the route bounds what it keeps per client, not the iterable.
   */
  runEvents(
    runRef: string,
    afterSeq: number,
    signal: AbortSignal,
  ): Promise<{ run: RunView; events: AsyncIterable<LiveRunEvent> }>;
  /**
   * The newest `limit` runs, then every run created or changed (run or stage state) as it changes, until `signal`
   * aborts. A change may be sent more than once; a client keeps the last view of each run id.
   */
  runChanges(limit: number, signal: AbortSignal): Promise<{ runs: RunView[]; changes: AsyncIterable<RunView> }>;
}

export interface WebServices extends ScheduleWebServices, LiveWebServices {
  /** Resolves an API token to its user; rejects with an error whose `code` is "unauthenticated". */
  authenticate(token: string): Promise<WebCaller>;
  /**
   * `yaml` is the raw request body: validity of its UTF-8 is checked by the parser.
   * `defaultName` names the run when the file has no `name:`. `caller` is who started it.
   */
  submitRun(yaml: Uint8Array, source: string, defaultName: string | undefined, caller: WebCaller): Promise<RunView>;
  getRun(id: string): Promise<RunView>;
  /**
   * One page of runs, newest first (by creation time, then id), matching every filter given; `more` says whether
   * older ones match too (the app then answers a `nextCursor`).
   */
  listRuns(query: RunListQuery): Promise<{ runs: RunView[]; more: boolean }>;
  /** Rejects with code "conflict" when the run already finished (nothing changes). */
  cancelRun(id: string, caller: WebCaller): Promise<RunView>;
  /**
   * A new run of the finished run `id` (same file, source and commit), started by `caller`; `failedOnly`: its succeeded
   * stages are kept with their outputs, the others and their dependents run again. Rejects with "conflict" for a run
   * not finished, or with nothing failed for `failedOnly`.
   */
  rerunRun(id: string, opts: { failedOnly: boolean }, caller: WebCaller): Promise<RunView>;
  /**
   * Approve or reject an approval stage as the user behind `token` (already authenticated).
   * Rejects with "permission_denied" (naming who may decide) for a user who is not a listed
   * approver, "conflict" when the stage is not waiting for a decision.
   */
  decideApproval(
    runRef: string,
    stage: string,
    decision: { approve: boolean; comment: string },
    caller: WebCaller,
  ): Promise<RunView>;
  /**
   * A decision from an incoming webhook (`hook` names it), verified from the raw `body` and its
   * Standard Webhooks headers. Rejects with "unauthenticated" (unknown hook, bad signature, old
   * timestamp), "conflict" (replayed webhook-id, stage not waiting), "invalid", "permission_denied".
   */
  hookDecision(req: {
    hook: string;
    headers: Record<string, string>;
    body: string;
  }): Promise<{ run: RunView; stage: string; decision: string; by: string }>;
  /**
   * A push event for registered repository `repo`, verified from the raw `body` and its headers
   * (GitHub: X-Hub-Signature-256 / X-GitHub-Delivery / X-GitHub-Event; GitLab: X-Gitlab-Token /
   * X-Gitlab-Event-UUID / X-Gitlab-Event). Rejects with "unauthenticated" (unknown repository,
   * missing or wrong signature or token), "conflict" (replayed delivery id), "invalid" (bad
   * headers or body, named). Answers the run it started, or why it started none (`ignored`).
   */
  gitPush(req: { repo: string; headers: Record<string, string>; body: string }): Promise<GitPushView>;
  /**
   * A page of one stage's output: `attempt` (default: the latest), from run-event seq `from`,
   * about `limitBytes` (whole chunks). Rejects with code "not_found" for an unknown run, stage or attempt.
   */
  stageLog(
    runRef: string,
    stage: string,
    opts: { attempt?: number; from: number; limitBytes: number },
  ): Promise<StageLogView>;
  listAgents(): Promise<AgentView[]>;
  /** Rejects with "not_found" for an unknown agent, "conflict" for one that is not gone or still holds live work. */
  removeAgent(id: string, caller: WebCaller): Promise<{ id: string; name: string; state: string }>;
  /**
   * Drain (`drain`: it finishes what it runs, takes nothing new, until undrained) or undrain an agent. Rejects with
   * "not_found", "conflict" (revoked), "invalid" (not an agent id).
   */
  drainAgent(id: string, drain: boolean, caller: WebCaller): Promise<AgentView>;
  /** Revoke an agent: its session ends, its id cannot register again, its attempts end as lost and retry elsewhere. */
  revokeAgent(id: string, caller: WebCaller): Promise<{ agent: AgentView; attemptsLost: number }>;
  listTokens(): Promise<TokenView[]>;
  listEnvironments(): Promise<EnvironmentView[]>;
  /** Every service, or the one named (rejects with "not_found" for an unknown one). */
  listServices(name?: string): Promise<ServiceView[]>;
  /** Which revision ran where, newest first; rejects with "not_found". */
  serviceHistory(name: string): Promise<ServiceHistoryView[]>;
  /**
   * Roll the service back: the update in progress switches back, or a run rolls to `revision` (default: the previous).
   * Rejects with "invalid", "not_found", "conflict" (no earlier revision).
   */
  rollbackService(name: string, req: { revision?: number; reason: string }, caller: WebCaller): Promise<RollbackView>;
  /**
   * Store an Alertmanager post's alerts (a resend of one stored changes nothing; a resolved one updates its row) and act
   * on the new firing ones: notify, roll back the service an update holds.
   */
  receiveAlerts(payload: AlertmanagerPayload): Promise<AlertReceipt>;
  /** Newest first: `limit` (unset: DEFAULT_ALERTS_LIMIT), only `state`'s when given. */
  listAlerts(opts: { state?: string; limit?: number }): Promise<AlertView[]>;
  listUsers(): Promise<UserView[]>;
  /** Rejects with "invalid" (bad name or role, naming it), "conflict" (the name is taken). */
  addUser(name: string, roles: string[], caller: WebCaller): Promise<UserView>;
  /** Rejects with "not_found", "conflict" (already disabled), "invalid" (the caller themself). */
  disableUser(name: string, caller: WebCaller): Promise<UserView>;
  /**
   * The newest `limit` entries (unset: 50, at most MAX_AUDIT_LIMIT) before entry `beforeId` (unset: the newest), oldest
   * first.
   */
  listAudit(opts: { limit?: number; beforeId?: number }): Promise<AuditEntryView[]>;
  listChannels(): Promise<ChannelView[]>;
  /**
   * Rejects with "invalid" (naming the field), "conflict" (the name is taken). `webhookKey`: a webhook's signing key,
   * answered this once (null for others).
   */
  addChannel(input: NewChannelInput, caller: WebCaller): Promise<{ channel: ChannelView; webhookKey: string | null }>;
  /** Rejects with "not_found". */
  removeChannel(name: string, caller: WebCaller): Promise<void>;
  /** Sends a test message and answers its delivery after its first attempt (waits up to 15 s). */
  testChannel(name: string): Promise<NotificationView>;
  /**
   * A new signing key for a webhook channel, answered this once; the old one signs too until `previousValidUntil`.
   * `windowSeconds` unset: 24 hours.
   */
  rotateChannelKey(
    name: string,
    windowSeconds: number | undefined,
    caller: WebCaller,
  ): Promise<{ webhookKey: string; previousValidUntil: string }>;
  /** Newest first: `limit` (unset: 50, at most MAX_NOTIFICATIONS_LIMIT), only `channel`'s when given. */
  listNotifications(opts: { channel?: string; limit?: number }): Promise<NotificationView[]>;
  /** The run's stage artifacts (one stage's when given); rejects with "invalid" or "not_found" naming the run or stage. */
  listArtifacts(runRef: string, stage?: string): Promise<ArtifactView[]>;
  /** One artifact's bytes; rejects with "invalid" (not an artifact id) or "not_found". */
  getArtifact(id: string): Promise<ArtifactContent>;
  /**
   * Prometheus exposition text and its content type. Called for every scrape that passes
   * AppOptions.metricsToken (never `authenticate`): keep it cheap.
   */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Liveness of the process's dependencies. */
  /** Readiness of the process's dependencies (each check "ok" or why not), answered within about a second. */
  health(): Promise<{ ok: boolean; checks: Record<string, string> }>;
}
