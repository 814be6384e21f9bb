// THE access table: the role every gRPC method and HTTP route needs. One guard on each edge
// (transport/grpc/guard.ts, the web app's access middleware) reads it; a method or route
// missing here is refused (fail closed), and access.test.ts checks it covers every method of
// the service definitions and every route of the web app.
//   agent  - AgentService: authenticated by the agent's own identity (agent-auth.ts), not by a user token
//   public - no credential (liveness, readiness; /metrics has its own token)
//   webhook - no API token: the request's Standard Webhooks signature, with the named hook's own
//            key, is its credential, checked by the handler before anything moves (hooks/inbound.ts);
//            the hook decides as its one bound user, through the same approver checks as anyone
//   a Role - an API token whose user holds that role, or one that implies it (see roles.ts)
import type { Role } from "./roles";

export type Access = Role | "agent" | "public" | "webhook";

export const GRPC_ACCESS: Record<string, Record<string, Access>> = {
  "dockyard.v1.AgentService": {
    Register: "agent",
    Heartbeat: "agent",
    GetAssignment: "agent",
    PollAssignments: "agent",
    SetDraining: "agent",
    Leave: "agent",
    AttemptStream: "agent",
    GetRunSource: "agent",
    UploadArtifact: "agent",
  },
  "dockyard.v1.RunService": {
    ValidatePipeline: "viewer",
    GetRun: "viewer",
    ListRuns: "viewer",
    WatchRun: "viewer",
    ListAgents: "viewer",
    ListEnvironments: "viewer",
    ListServices: "viewer",
    ListAlerts: "viewer",
    ServiceHistory: "viewer",
    WhoAmI: "viewer",
    SubmitRun: "operator",
    CancelRun: "operator",
    // A new run of a finished one, started by the caller (as SubmitRun).
    RerunRun: "operator",
    // Rolls a service back (audited): the alert loop's entry point.
    RollbackService: "operator",
    // Only the stage's listed approvers, among these, may decide (the approval kind checks).
    DecideApproval: "approver",
    CreateJoinToken: "admin",
    RevokeJoinToken: "admin",
    RevokeAgent: "admin",
    DrainAgent: "admin",
    UndrainAgent: "admin",
    RemoveAgent: "admin",
    ListTokens: "admin",
    SetSecret: "admin",
    ListSecrets: "admin",
    DeleteSecret: "admin",
    AddUser: "admin",
    ListUsers: "admin",
    DisableUser: "admin",
    CreateApiToken: "admin",
    RevokeApiToken: "admin",
    ListAudit: "admin",
    // Channels hold credentials (in the secret store) and send on the server's behalf.
    AddChannel: "admin",
    RemoveChannel: "admin",
    TestChannel: "admin",
    RotateChannelKey: "admin",
    ListChannels: "viewer",
    ListNotifications: "viewer",
    // Incoming decision webhooks: each decides as a user, and AddHook answers its key.
    AddHook: "admin",
    ListHooks: "admin",
    RemoveHook: "admin",
    // Push webhooks: AddRepo answers the secret, and a repository's pushes start runs.
    AddRepo: "admin",
    ListRepos: "viewer",
    RemoveRepo: "admin",
    ListArtifacts: "viewer",
    GetArtifact: "viewer",
    // Schedules submit runs as their owner (an operator, checked again at every tick).
    ListSchedules: "viewer",
    ListScheduleTicks: "viewer",
    CreateSchedule: "operator",
    DeleteSchedule: "operator",
    SetScheduleEnabled: "operator",
  },
};

/** Keyed `METHOD /path` as the web app registers it (Hono path patterns). */
export const HTTP_ACCESS: Record<string, Access> = {
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /metrics": "public",
  // The OpenAPI document and its reference page: generated from the code, the same for every install, no data;
  // public so a client generator or a reader without a token can fetch them (the page loads only public assets).
  "GET /api/v1/openapi.json": "public",
  "GET /api/v1/docs": "public",
  // Chat tools: signed by the hook's key instead of a token (see `webhook` above).
  "POST /hooks/v1/approvals/:hook": "webhook",
  // Git pushes: signed with the repository's secret (GitHub HMAC) or carrying it (GitLab token) instead of a token.
  "POST /hooks/v1/git/:name": "webhook",
  // Alertmanager: no API token; its handler compares the alert token (DOCKYARD_ALERT_TOKEN_FILE) in constant time.
  "POST /api/v1/alerts/alertmanager": "webhook",
  "GET /api/v1/alerts": "viewer",
  "GET /api/v1/runs": "viewer",
  "GET /api/v1/runs/:id": "viewer",
  "GET /api/v1/runs/:id/logs": "viewer",
  "GET /api/v1/runs/:id/stages/:stage/logs": "viewer",
  // Live streams (SSE), as WatchRun: a run's events and log lines, and the runs list.
  "GET /api/v1/runs/:id/events": "viewer",
  "GET /api/v1/runs/stream": "viewer",
  "GET /api/v1/agents": "viewer",
  "GET /api/v1/environments": "viewer",
  "GET /api/v1/services": "viewer",
  "GET /api/v1/services/:name": "viewer",
  "GET /api/v1/services/:name/history": "viewer",
  "POST /api/v1/services/:name/rollback": "operator",
  "POST /api/v1/runs": "operator",
  "POST /api/v1/runs/:id/cancel": "operator",
  "POST /api/v1/runs/:id/rerun": "operator",
  "POST /api/v1/runs/:id/stages/:stage/approve": "approver",
  "POST /api/v1/runs/:id/stages/:stage/reject": "approver",
  "DELETE /api/v1/agents/:id": "admin",
  // Agents are the farm's: drain/undrain and revoke are admin's, as RevokeAgent and RemoveAgent.
  "POST /api/v1/agents/:id/drain": "admin",
  "POST /api/v1/agents/:id/undrain": "admin",
  "POST /api/v1/agents/:id/revoke": "admin",
  "GET /api/v1/tokens": "admin",
  // Users and the audit log, as ListUsers, AddUser, DisableUser and ListAudit.
  "GET /api/v1/users": "admin",
  "POST /api/v1/users": "admin",
  "POST /api/v1/users/:name/disable": "admin",
  "GET /api/v1/audit": "admin",
  // Channels and deliveries, as ListChannels, AddChannel, RemoveChannel, TestChannel, RotateChannelKey and
  // ListNotifications.
  "GET /api/v1/channels": "viewer",
  "POST /api/v1/channels": "admin",
  "DELETE /api/v1/channels/:name": "admin",
  "POST /api/v1/channels/:name/test": "admin",
  "POST /api/v1/channels/:name/rotate": "admin",
  "GET /api/v1/notifications": "viewer",
  // Stage artifacts, as ListArtifacts and GetArtifact.
  "GET /api/v1/runs/:id/artifacts": "viewer",
  "GET /api/v1/artifacts/:id": "viewer",
  // Schedules, as ListSchedules, ListScheduleTicks, CreateSchedule, DeleteSchedule and SetScheduleEnabled.
  "GET /api/v1/schedules": "viewer",
  "GET /api/v1/schedules/:name": "viewer",
  "GET /api/v1/schedules/:name/ticks": "viewer",
  "POST /api/v1/schedules": "operator",
  "DELETE /api/v1/schedules/:name": "operator",
  "POST /api/v1/schedules/:name/pause": "operator",
  "POST /api/v1/schedules/:name/resume": "operator",
  // The web UI (web/src/ui): the login form and the stylesheet/scripts need no session; every page
  // and form needs the same role as the JSON route it mirrors (a form POST also its CSRF token).
  "GET /login": "public",
  "POST /login": "public",
  "GET /ui/assets/:name": "public",
  "POST /logout": "viewer",
  "GET /": "viewer",
  "GET /runs/:id": "viewer",
  "POST /runs": "operator",
  "POST /runs/:id/cancel": "operator",
  "POST /runs/:id/rerun": "operator",
  "POST /runs/:id/rerun-failed": "operator",
  "POST /runs/:id/stages/:stage/approve": "approver",
  "POST /runs/:id/stages/:stage/reject": "approver",
  "GET /approvals": "viewer",
  "GET /agents": "viewer",
  "POST /agents/:id/drain": "admin",
  "POST /agents/:id/undrain": "admin",
  "POST /agents/:id/revoke": "admin",
  "GET /services": "viewer",
  "POST /services/:name/rollback": "operator",
  "GET /environments": "viewer",
  "GET /alerts": "viewer",
  "GET /audit": "admin",
};

export function grpcAccess(service: string, method: string): Access | undefined {
  return GRPC_ACCESS[service]?.[method];
}
