// The public JSON shapes of runs, stages, attempts and agents, and the services the web
// app needs. The control plane implements WebServices; rows never reach the JSON directly.
// The CLI's `--json` output uses these same shapes (it imports them as types), so the
// HTTP API and `dockyard ... --json` agree. Times are ISO-8601 UTC strings, null when
// unset; a value that does not exist (yet) is null, never "" or 0. Fields may be added;
// none are renamed or removed.
import type { RollbackView, ServiceHistoryView, ServiceView } from "./service-types";
import type { AlertmanagerPayload, AlertReceipt, AlertView } from "./alert-types";
import type { ArtifactContent, ArtifactView } from "./artifact-types";
import type { NewScheduleInput, ScheduleTickView, ScheduleView } from "./schedule-types";
import type { ApprovalEventView, LogEventView, StageEventView } from "./live-types";

/** One attempt of a stage: every try is its own entry, lost and timed-out ones included. */
export interface AttemptView {
  /** 1, 2, ... in the order they were made. */
  number: number;
  /** assigned | running | succeeded | failed | errored | canceled | lost | timeout */
  state: string;
  /** null for an attempt the server itself ran (approval, notify). */
  agentId: string | null;
  agentName: string | null;
  assignedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** null when it ended without one (lost, timeout, canceled) or has not ended. */
  exitCode: number | null;
  /** Why it ended the way it did, e.g. `agent lost: no heartbeat`. */
  reason: string | null;
}

/** What a stage's successful (or, for tests, failed) attempt reported. */
export interface OutputsView {
  /** Strings later stages read as ${{ stages.NAME.outputs.KEY }}. */
  values: Record<string, string>;
  /** A build's image; `digest` is the registry's, null when the image was not pushed. */
  image: { ref: string; id: string; digest: string | null; sizeBytes: number; layers: number } | null;
  /** A test stage's JUnit counts. */
  tests: { passed: number; failed: number; skipped: number; errors: number; total: number } | null;
  /** One line the stage's kind makes of its outputs (`image app:3  3.0 MB, 3 layers`); null when it has none. */
  summary: string | null;
}

export interface StageView {
  id: string;
  name: string;
  /** command | build | deploy | test | approval */
  type: string;
  state: string;
  needs: string[];
  /** How many attempts were made; `attemptHistory` has one entry each. */
  attempts: number;
  /** null while it has none: not ended, errored before its command exited, lost, timed out, canceled. */
  exitCode: number | null;
  /** Why a pending or queued stage waits; once ended, its last attempt's own reason. */
  reason: string | null;
  agentId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  attemptHistory: AttemptView[];
  outputs: OutputsView | null;
}

export interface RunView {
  id: string;
  name: string;
  state: string;
  /** The user who submitted it; null for runs older than users. */
  startedBy: string | null;
  /** Where it came from (`cli:dockyard.yml`); null when the submitter gave nothing. */
  source: string | null;
  /** The pushed branch of a run a git push started (`POST /hooks/v1/git/:name`); null otherwise. */
  branch: string | null;
  /** The commit the run is for (the pushed commit, or DOCKYARD_COMMIT from the submitter); null when unknown. */
  commit: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** finishedAt - createdAt; null while the run is not finished. */
  durationMs: number | null;
  /** In pipeline order (`GET /runs` lists them too). */
  stages: StageView[];
}

/** The answer to a git push webhook: the run started, or why none was. */
export interface GitPushView {
  repo: string;
  delivery: string;
  /** Set when the push started nothing: a ping, another event, a tag, a deleted or unmatched branch. */
  ignored: string | null;
  branch: string | null;
  commit: string | null;
  run: RunView | null;
}

export interface AgentView {
  id: string;
  name: string;
  hostname: string | null;
  /** online | draining | lost | offline | revoked */
  state: string;
  labels: Record<string, string>;
  capacity: number;
  slotsUsed: number;
  lastHeartbeatAt: string | null;
  version: string | null;
  /** What the agent offers stage kinds: docker, shell, build. */
  capabilities: string[];
  /** When it was revoked; null when it was not. */
  revokedAt: string | null;
  /** When an admin drained it (it stays draining until undrained); null when not. */
  drainRequestedAt: string | null;
}

/** A join token (registers agents) or an API token (clients); never its secret. */
export interface TokenView {
  id: string;
  kind: "join" | "api";
  /** The API token's user; null for join tokens. */
  user: string | null;
  description: string | null;
  createdAt: string;
  /** null when never used; recorded at most once a minute per token. */
  lastUsedAt: string | null;
  /** null while it is live. */
  revokedAt: string | null;
}

/** A temporary environment a deploy stage started, until its agent reports it gone. */
export interface EnvironmentView {
  id: string;
  runId: string;
  stage: string;
  agent: string;
  owner: string;
  /** null when its agent could not tell (no container left). */
  createdAt: string | null;
  /** null when its labels carry no expiry (such an environment is never reaped). */
  expiresAt: string | null;
  /** Service -> address (host:port) on the environment's network. */
  services: Record<string, string>;
}

/** A page of one stage attempt's output (`GET /runs/:id/stages/:stage/logs`). */
export interface StageLogView {
  /** The run's full id (the request may have named it by prefix or PIPELINE#NUMBER). */
  runId: string;
  /** The attempt read; null while the stage has made none (the page is then empty). */
  attempt: number | null;
  attempts: number;
  /** The attempt's bytes as stored (secrets already masked), stdout, stderr and the farm's notes in order. */
  data: Uint8Array;
  /** Where the next page starts (its `from`). */
  nextFrom: number;
  /** The attempt has ended and this page holds its last bytes. */
  complete: boolean;
}

/** A user (`GET /users`): never a token. */
export interface UserView {
  name: string;
  /** viewer | operator | approver | admin */
  roles: string[];
  createdAt: string;
  /** null while the user is enabled. */
  disabledAt: string | null;
  /** API tokens of the user that are not revoked. */
  activeTokens: number;
}

/** One entry of the append-only audit log (`GET /audit`). */
export interface AuditEntryView {
  /** Increasing; `?before=ID` pages back from it. */
  id: number;
  at: string;
  /** A user's name, `agent:NAME`, or `server`. */
  actor: string;
  /** Dotted verb: user.added, token.created, secret.set, channel.added, run.started, approval.decided, ... */
  action: string;
  target: string;
  /** Never a secret value. */
  details: Record<string, unknown>;
}

/** A notification channel (`GET /channels`): never a credential. */
export interface ChannelView {
  name: string;
  /** email | sms | webhook */
  type: string;
  /** What it sends to (URL, SMTP host and recipients), for display. */
  target: string;
  createdAt: string;
  /** null while enabled; set when a receiver answered 410 Gone. */
  disabledAt: string | null;
  disabledReason: string | null;
}

/** A new channel (`POST /channels`); which fields apply depends on `type` (see the README). */
export interface NewChannelInput {
  name: string;
  type: string;
  url?: string;
  smtpUrl?: string;
  from?: string;
  to?: string[];
  template?: string;
  user?: string;
  /** The SMTP password or SMS token, stored sealed and never answered. */
  secret?: string;
  /** Or the name of a secret already in the store holding it. */
  secretName?: string;
}

/** One try of a delivery. */
export interface NotificationAttemptView {
  number: number;
  at: string;
  /** delivered | failed | refused | gone | disabled */
  result: string;
  /** null when there was no HTTP/SMTP answer. */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * One message to one channel (`GET /notifications`); `id` is its webhook-id. The same shape as `dockyard notifications
 * --json`.
 */
export interface NotificationView {
  id: string;
  channel: string;
  event: string;
  /** null for messages about no run (a channel test). */
  runId: string | null;
  /** As sent: rendered, secret values masked. */
  subject: string;
  /** pending | delivered | failed | disabled */
  state: string;
  createdAt: string;
  /** null unless pending. */
  nextAttemptAt: string | null;
  finishedAt: string | null;
  attempts: NotificationAttemptView[];
}

/** The user an API token speaks for; handlers read it as `c.get("caller")`. */
export interface WebCaller {
  userId: string;
  /** The user's name. */
  user: string;
  roles: string[];
}

/** What each route needs, from the server's one access table (the app holds no roles of its own). */
export interface RouteAccess {
  /**
   * By `METHOD /path` as registered (e.g. `GET /api/v1/runs/:id`): "public", "webhook" (its handler checks a
   * signature), a role, or undefined (refused: fail closed).
   */
  routeAccess(route: string): string | undefined;
  /** Whether a user holding `roles` may use a route that needs `role`. */
  allows(roles: readonly string[], role: string): boolean;
}

/** Hono's typing of the app's context variables. */
export interface AppEnv {
  Variables: {
    caller: WebCaller;
    /** The session's CSRF token when the request came with a UI session cookie; null with a bearer token. */
    csrf: string | null;
  };
}

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

/** The run's state changed; `run` is the run as it is when the event is sent. */
export interface RunStateEventView {
  seq: number;
  at: string;
  runId: string;
  state: string;
  run: RunView;
}

/** One event of a run, by SSE event name; `seq` is the SSE `id`. */
export type LiveRunEvent =
  | { event: "stage"; data: StageEventView }
  | { event: "log"; data: LogEventView }
  | { event: "run"; data: RunStateEventView }
  | { event: "approval"; data: ApprovalEventView };

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

/** What `GET /api/v1/runs` asks the services for: every filter is optional, all given ones must match. */
export interface RunListQuery {
  /** 1 to MAX_RUNS_LIMIT. */
  limit: number;
  /** A run state (RUN_STATES). */
  state?: string;
  /** The pipeline's name (the run's name). */
  pipeline?: string;
  /** The branch a git push started it from (exact). */
  branch?: string;
  /** Created at or after. */
  since?: Date;
  /** Created before. */
  until?: Date;
  /** From the cursor: only runs older than this key (the previous page's last run). */
  after?: { createdAt: Date; id: string };
}

/** `GET /api/v1/runs`: a page, and the cursor of the next one (null on the last page). */
export interface RunPageView {
  runs: RunView[];
  nextCursor: string | null;
}

export interface ErrorBody {
  /** `field`: the query parameter, path parameter or body field a 400 is about, when it is about one. */
  error: { code: string; message: string; field?: string; problems?: string[] };
}
