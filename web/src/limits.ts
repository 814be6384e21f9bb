// Bounds the HTTP API and the CLI share, defined once so the two cannot disagree.

/** Largest number of runs one list asks for (`GET /runs?limit=`, `ListRuns.limit`, `dockyard runs -n`). */
export const MAX_RUNS_LIMIT = 500;
/** Runs listed when the caller gives no limit. */
export const DEFAULT_RUNS_LIMIT = 20;
/** Largest number of audit entries one list asks for (`GET /audit?limit=`, `ListAudit.limit`, `dockyard audit -n`). */
export const MAX_AUDIT_LIMIT = 1000;
/** Audit entries listed when the caller gives no limit. */
export const DEFAULT_AUDIT_LIMIT = 50;
/**
 * Largest number of deliveries one list asks for (`GET /notifications?limit=`, `ListNotifications.limit`, `dockyard
 * notifications --limit`).
 */
export const MAX_NOTIFICATIONS_LIMIT = 500;
/** Deliveries listed when the caller gives no limit. */
export const DEFAULT_NOTIFICATIONS_LIMIT = 50;
/** Longest rotation window of a webhook channel's key (`windowSeconds`): 30 days. */
export const MAX_ROTATION_WINDOW_SECONDS = 30 * 24 * 3600;
