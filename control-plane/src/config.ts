// Server configuration: the only place that reads the environment.
import { readFileSync } from "node:fs";
import { z } from "zod";

const ms = (def: number, min = 1) => z.coerce.number().int().min(min).max(86_400_000).default(def);
const listen = (def: string) =>
  z.string().regex(/^[^\s:]+:\d{1,5}$/, "expected host:port").default(def);

const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  DOCKYARD_DATA_DIR: z.string().min(1).default(".dockyard/server"),
  DOCKYARD_NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  DOCKYARD_NATS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "expected a NATS subject prefix").default("dockyard"),
  DOCKYARD_GRPC_LISTEN: listen("127.0.0.1:7400"),
  DOCKYARD_HTTP_LISTEN: listen("127.0.0.1:7401"),
  DOCKYARD_JOIN_TOKEN: z.string().min(16, "join token must be at least 16 characters").optional(),
  DOCKYARD_API_TOKEN: z.string().min(16, "api token must be at least 16 characters").optional(),
  DOCKYARD_AGENT_LOST_TIMEOUT_MS: ms(15_000, 100),
  DOCKYARD_HEARTBEAT_INTERVAL_MS: ms(3_000, 50),
  DOCKYARD_LEASE_TTL_MS: ms(15_000, 100),
  DOCKYARD_AGENT_POLL_INTERVAL_MS: ms(10_000, 50),
  DOCKYARD_SWEEP_INTERVAL_MS: ms(1_000, 10),
  DOCKYARD_SCHEDULER_INTERVAL_MS: ms(500, 10),
  DOCKYARD_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});

export type ServerEnv = z.infer<typeof schema>;

export interface ServerConfig {
  databaseUrl: string | null;
  dataDir: string;
  natsUrl: string;
  natsPrefix: string;
  grpcListen: string;
  httpListen: string;
  joinToken: string | null;
  apiToken: string | null;
  agentLostTimeoutMs: number;
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  agentPollIntervalMs: number;
  sweepIntervalMs: number;
  schedulerIntervalMs: number;
  logLevel: ServerEnv["DOCKYARD_LOG_LEVEL"];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** `NAME_FILE` points at a file holding NAME's value (for secrets); it wins over NAME. */
export function resolveFileVars(env: Record<string, string | undefined>, names: string[], problems: string[]) {
  const out = { ...env };
  for (const name of names) {
    const file = env[`${name}_FILE`];
    if (!file) continue;
    try {
      out[name] = readFileSync(file, "utf8").trim();
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** Parse and validate; throws ConfigError listing every bad variable at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const problems: string[] = [];
  const resolved = resolveFileVars(env, ["DOCKYARD_JOIN_TOKEN", "DOCKYARD_API_TOKEN", "DATABASE_URL"], problems);
  const blankToUndefined = Object.fromEntries(
    Object.entries(resolved).filter(([k, v]) => k in schema.shape && v !== undefined && v !== ""),
  );
  const parsed = schema.safeParse(blankToUndefined);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: e.DOCKYARD_DATA_DIR,
    natsUrl: e.DOCKYARD_NATS_URL,
    natsPrefix: e.DOCKYARD_NATS_PREFIX,
    grpcListen: e.DOCKYARD_GRPC_LISTEN,
    httpListen: e.DOCKYARD_HTTP_LISTEN,
    joinToken: e.DOCKYARD_JOIN_TOKEN ?? null,
    apiToken: e.DOCKYARD_API_TOKEN ?? null,
    agentLostTimeoutMs: e.DOCKYARD_AGENT_LOST_TIMEOUT_MS,
    heartbeatIntervalMs: e.DOCKYARD_HEARTBEAT_INTERVAL_MS,
    leaseTtlMs: e.DOCKYARD_LEASE_TTL_MS,
    agentPollIntervalMs: e.DOCKYARD_AGENT_POLL_INTERVAL_MS,
    sweepIntervalMs: e.DOCKYARD_SWEEP_INTERVAL_MS,
    schedulerIntervalMs: e.DOCKYARD_SCHEDULER_INTERVAL_MS,
    logLevel: e.DOCKYARD_LOG_LEVEL,
  };
}

/** Every variable the server reads (checked against `.env.example` by a test). */
export const SERVER_ENV_VARS = Object.keys(schema.shape);
