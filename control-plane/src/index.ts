// Public entry of the control plane (used by the CLI, tests and benchmarks).
export { serverMain } from "./main";
export { startServer, type ServerHandle, type ServerDeps } from "./server";
export { loadConfig, ConfigError, SERVER_ENV_VARS, type ServerConfig } from "./config";
export { MIGRATIONS_DIR, openDatabase, type Database } from "./store/db";
export { systemClock, type Clock } from "./clock";
export { createJoinToken } from "./store/tokens";
export { claimAndPlace, placeAttempts, type Placement } from "./store/claims";
