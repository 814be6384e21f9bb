// Bounds the HTTP API and the CLI share, defined once so the two cannot disagree.

/** Largest number of runs one list asks for (`GET /runs?limit=`, `ListRuns.limit`, `dockyard runs -n`). */
export const MAX_RUNS_LIMIT = 500;
/** Runs listed when the caller gives no limit. */
export const DEFAULT_RUNS_LIMIT = 20;
