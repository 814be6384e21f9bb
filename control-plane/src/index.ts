// Public entry of the control plane (used by the CLI, tests and benchmarks).
export { serverMain } from "./main";
export { startServer, type ServerHandle, type ServerDeps } from "./server";
export { loadConfig, ConfigError, SERVER_ENV_VARS, type ServerConfig } from "./config";
export { MIGRATIONS_DIR, openDatabase, type Database } from "./store/db";
export { systemClock, type Clock } from "./clock";
export { createJoinToken } from "./store/tokens";
export { audit, readAudit, SERVER_ACTOR, type Actor, type AuditEntry } from "./store/audit";
export { GRPC_ACCESS, HTTP_ACCESS, type Access } from "./access/role-table";
export { ROLES, hasRole, type Role } from "./access/roles";
export { routeAccess } from "./access/route-access";
export { SecretStore, type SecretInfo, type SecretValue, type RotationResult } from "./secrets/secret-store";
export { Keyring, loadKeyring, keyIdOf, KeyFileError, type SealedSecret, type KeyringOptions } from "./secrets/keyring";
export { createMetrics, type ServerMetrics, type MetricsOptions } from "./metrics";
export { requestRollback, type RollbackRequest, type RollbackDeps } from "./services/rollback";
export { claimAndPlace, placeAttempts, type Placement } from "./store/claims";
export { ensurePki, type Pki, type PkiOptions } from "./pki";
export { ServerStageRunner, SERVER_AGENT_ID, STAGE_TIMEOUT, type ServerRunnerHooks } from "./stages/server-runner";
export { SERVER_KINDS, AGENT_KINDS } from "./stages/index";
export { cancelRun } from "./store/runs";
export { finishAttempt } from "./store/attempts";
export { createApiToken } from "./store/tokens";
export { addUser } from "./store/users";
export type {
  ServerStageKind,
  ServerStage,
  ServerStageContext,
  ServerSignal,
  ChildSpawn,
  ChildEnded,
  SpawnedChild,
} from "./stages/kind";
export {
  enqueueNotification,
  notifyRunEvent,
  renderTemplate,
  targetPolicy,
  resolveTarget,
  RefusedTargetError,
  RETRY_SCHEDULE_MS,
  type NewNotification,
  type NotifyContext,
  type TargetPolicy,
} from "./notify/index";
export { journeyHistory, serviceTarget } from "./stages/ui-test-inputs";
