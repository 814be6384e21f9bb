// Server configuration: the only place that reads the environment.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { defaultFenceMs, fenceProblem } from "@dockyard/proto";
import { parseDuration } from "@dockyard/pipeline";

const ms = (def: number, min = 1) => z.coerce.number().int().min(min).max(86_400_000).default(def);
const listen = (def: string) =>
  z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, "expected host:port")
    .default(def);

const schema = z.object({
  DATABASE_URL: z.string().url().optional(),
  DOCKYARD_DATA_DIR: z.string().min(1).default(".dockyard/server"),
  DOCKYARD_NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  DOCKYARD_NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "expected a NATS subject prefix")
    .default("dockyard"),
  DOCKYARD_GRPC_LISTEN: listen("127.0.0.1:7400"),
  DOCKYARD_HTTP_LISTEN: listen("127.0.0.1:7401"),
  DOCKYARD_JOIN_TOKEN: z.string().min(16, "join token must be at least 16 characters").optional(),
  DOCKYARD_API_TOKEN: z.string().min(16, "api token must be at least 16 characters").optional(),
  DOCKYARD_METRICS_TOKEN: z.string().min(16, "metrics token must be at least 16 characters").optional(),
  /** Read from DOCKYARD_ALERT_TOKEN_FILE (Alertmanager's credentials_file holds the same token). */
  DOCKYARD_ALERT_TOKEN: z.string().min(16, "alert token must be at least 16 characters").optional(),
  DOCKYARD_ALERT_CHANNELS: z
    .string()
    .regex(/^[A-Za-z0-9._,\s-]*$/, "expected channel names, comma-separated")
    .default(""),
  DOCKYARD_AGENT_LOST_TIMEOUT_MS: ms(15_000, 100),
  DOCKYARD_HEARTBEAT_INTERVAL_MS: ms(3_000, 50),
  DOCKYARD_LEASE_TTL_MS: ms(15_000, 100),
  /** Agents stop an attempt they could not renew for this long; default 70% of the lease TTL. */
  DOCKYARD_LEASE_FENCE_MS: z.coerce.number().int().min(1).max(86_400_000).optional(),
  DOCKYARD_AGENT_POLL_INTERVAL_MS: ms(10_000, 50),
  DOCKYARD_SWEEP_INTERVAL_MS: ms(1_000, 10),
  // Up to a year: a farm may keep the record of gone agents for long.
  DOCKYARD_AGENT_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(31_536_000_000)
    .default(7 * 86_400_000),
  DOCKYARD_SCHEDULER_INTERVAL_MS: ms(500, 10),
  DOCKYARD_SSE_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  DOCKYARD_SSE_HEARTBEAT_MS: ms(15_000, 100),
  DOCKYARD_UNSCHEDULABLE_TIMEOUT_MS: ms(600_000, 1_000),
  DOCKYARD_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  DOCKYARD_SECRET_KEY_FILE: z.string().min(1).optional(),
  DOCKYARD_SECRET_OLD_KEY_FILES: z.string().optional(),
  DOCKYARD_PKI_DIR: z.string().min(1).optional(),
  DOCKYARD_TLS_CERT_FILE: z.string().min(1).optional(),
  DOCKYARD_TLS_KEY_FILE: z.string().min(1).optional(),
  DOCKYARD_TLS_CA_FILE: z.string().min(1).optional(),
  DOCKYARD_TLS_SANS: z
    .string()
    .regex(/^[^\s]*$/, "expected a comma-separated list of DNS names and IPs")
    .default(""),
  DOCKYARD_INSECURE: z.enum(["true", "false", "1", "0"]).default("false"),
  DOCKYARD_STALL_GRACE: z.enum(["true", "false"]).default("true"),
  DOCKYARD_REGISTRY: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/, "expected host[:port]")
    .optional(),
  DOCKYARD_REGISTRY_USERNAME: z
    .string()
    .regex(/^\S{1,128}$/, "expected 1-128 characters without spaces")
    .optional(),
  DOCKYARD_REGISTRY_PASSWORD_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a secret name")
    .optional(),
  DOCKYARD_NOTIFY_ALLOW_PRIVATE: z
    .string()
    .regex(/^[A-Za-z0-9.:/,\s-]*$/, "expected loopback, private, link-local or CIDRs, comma-separated")
    .default(""),
  DOCKYARD_NOTIFY_FALLBACK_CHANNEL: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a channel name")
    .optional(),
  DOCKYARD_NOTIFY_RETRY_SCALE: z.coerce.number().min(0.0001).max(1).default(1),
  /** How long a replica holds a message it is sending; past it another one re-sends (after a crash). */
  DOCKYARD_NOTIFY_LEASE_MS: ms(15_000, 1_000),
  /** How often a schedule ticks while a service its journey tests is being updated (1s to 1h; a number is seconds). */
  DOCKYARD_CONTINUOUS_INTERVAL: z
    .string()
    .default("3s")
    .transform((text, ctx) => {
      const parsed = parseDuration(/^\d+$/.test(text) ? `${text}s` : text);
      if (!parsed.ok || parsed.ms < 1000 || parsed.ms > 3_600_000) {
        ctx.addIssue({
          code: "custom",
          message: parsed.ok ? "expected a duration from 1s to 1h, e.g. 3s" : parsed.message,
        });
        return z.NEVER;
      }
      return parsed.ms;
    }),
  /** How often each replica looks for due schedules. */
  DOCKYARD_SCHEDULE_POLL_MS: ms(1_000, 50),
  /** Sustained HTTP API requests per second per token (0: no limit), and the burst a token may send at once. */
  DOCKYARD_API_RATE_PER_S: z.coerce.number().min(0).max(1_000_000).default(20),
  DOCKYARD_API_RATE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(40),
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
  /** Bearer token /metrics requires; null leaves /metrics open (a scraper on a trusted network). */
  metricsToken: string | null;
  /** Alertmanager's bearer token for the alert receiver; null: the receiver answers 503 (not configured). */
  alertToken: string | null;
  /** Channels every new firing alert is sent to (farm alerts, e.g. agents lost), besides its pipeline's rules. */
  alertChannels: string[];
  /** Bytes an SSE client may leave unread before its events are dropped (it gets `gap` and resumes). */
  sseBufferBytes: number;
  /** A heartbeat comment on every SSE stream this often. */
  sseHeartbeatMs: number;
  agentLostTimeoutMs: number;
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  /** Agents stop an attempt whose lease they could not renew for this long (see @dockyard/proto fence.ts). */
  leaseFenceMs: number;
  agentPollIntervalMs: number;
  sweepIntervalMs: number;
  /**
   * Revoked, lost and offline agents are deleted this long after they were last heard from (unless they hold live
   * work).
   */
  agentRetentionMs: number;
  schedulerIntervalMs: number;
  /**
   * A queued stage that no registered agent (online, draining, lost or offline) could run ends as errored after this
   * long.
   */
  unschedulableTimeoutMs: number;
  logLevel: ServerEnv["DOCKYARD_LOG_LEVEL"];
  /** The secret store's current AES-256-GCM key (hex); created on first start. Default `<dataDir>/secret.key`. */
  secretKeyFile: string;
  /** Files of previous keys: values sealed with them stay readable and are re-sealed at start. */
  secretOldKeyFiles: string[];
  /** Where the CA, serving certificate, signing key and farm key live (default `<dataDir>/pki`). */
  pkiDir: string;
  /** Operator-provided TLS files (all three, or none: then the server makes its own CA). */
  tls: { certFile: string; keyFile: string; caFile: string } | null;
  /** Extra names and IPs for the generated serving certificate. */
  tlsSans: string[];
  /** The registry for pipelines that name none; its password is a secret's name in the store. */
  registry: { address: string; username: string | null; passwordSecret: string | null } | null;
  /** Plaintext gRPC (local experiments only; loudly logged). */
  insecure: boolean;
  /** Give agents a lease TTL after the server stalled (false only in tests: the positive control). */
  stallGrace: boolean;
  /** Notification delivery: private targets allowed, the fallback channel, the retry schedule's scale. */
  notify: { allowPrivate: string[]; fallbackChannel: string | null; retryScale: number; leaseMs: number };
  /** Schedules: the continuous interval during a service's update, and how often the ticker looks. */
  schedules: { continuousIntervalMs: number; pollMs: number };
  /** The HTTP API's per-token token bucket (per replica, in memory); null: no limit. */
  apiRateLimit: { perSecond: number; burst: number } | null;
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
  const resolved = resolveFileVars(
    env,
    ["DOCKYARD_JOIN_TOKEN", "DOCKYARD_API_TOKEN", "DOCKYARD_METRICS_TOKEN", "DOCKYARD_ALERT_TOKEN", "DATABASE_URL"],
    problems,
  );
  const blankToUndefined = Object.fromEntries(
    Object.entries(resolved).filter(([k, v]) => k in schema.shape && v !== undefined && v !== ""),
  );
  const parsed = schema.safeParse(blankToUndefined);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
  }
  if (
    parsed.success &&
    parsed.data.DOCKYARD_METRICS_TOKEN !== undefined &&
    parsed.data.DOCKYARD_METRICS_TOKEN === parsed.data.DOCKYARD_API_TOKEN
  ) {
    problems.push(
      "DOCKYARD_METRICS_TOKEN: must differ from DOCKYARD_API_TOKEN (a scraper's token must not open the API)",
    );
  }
  if (parsed.success) {
    const given = [
      parsed.data.DOCKYARD_TLS_CERT_FILE,
      parsed.data.DOCKYARD_TLS_KEY_FILE,
      parsed.data.DOCKYARD_TLS_CA_FILE,
    ].filter(Boolean).length;
    if (given !== 0 && given !== 3)
      problems.push("DOCKYARD_TLS_CERT_FILE, DOCKYARD_TLS_KEY_FILE, DOCKYARD_TLS_CA_FILE: give all three or none");
  }
  if (parsed.success) {
    const ttl = parsed.data.DOCKYARD_LEASE_TTL_MS;
    const problem = fenceProblem(ttl, parsed.data.DOCKYARD_LEASE_FENCE_MS ?? defaultFenceMs(ttl));
    if (problem)
      problems.push(
        `${parsed.data.DOCKYARD_LEASE_FENCE_MS ? "DOCKYARD_LEASE_FENCE_MS" : "DOCKYARD_LEASE_TTL_MS"}: ${problem}`,
      );
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
    metricsToken: e.DOCKYARD_METRICS_TOKEN ?? null,
    alertToken: e.DOCKYARD_ALERT_TOKEN ?? null,
    alertChannels: e.DOCKYARD_ALERT_CHANNELS.split(",")
      .map((x) => x.trim())
      .filter(Boolean),
    sseBufferBytes: e.DOCKYARD_SSE_BUFFER_BYTES,
    sseHeartbeatMs: e.DOCKYARD_SSE_HEARTBEAT_MS,
    agentLostTimeoutMs: e.DOCKYARD_AGENT_LOST_TIMEOUT_MS,
    heartbeatIntervalMs: e.DOCKYARD_HEARTBEAT_INTERVAL_MS,
    leaseTtlMs: e.DOCKYARD_LEASE_TTL_MS,
    leaseFenceMs: e.DOCKYARD_LEASE_FENCE_MS ?? defaultFenceMs(e.DOCKYARD_LEASE_TTL_MS),
    agentPollIntervalMs: e.DOCKYARD_AGENT_POLL_INTERVAL_MS,
    sweepIntervalMs: e.DOCKYARD_SWEEP_INTERVAL_MS,
    agentRetentionMs: e.DOCKYARD_AGENT_RETENTION_MS,
    schedulerIntervalMs: e.DOCKYARD_SCHEDULER_INTERVAL_MS,
    unschedulableTimeoutMs: e.DOCKYARD_UNSCHEDULABLE_TIMEOUT_MS,
    logLevel: e.DOCKYARD_LOG_LEVEL,
    secretKeyFile: e.DOCKYARD_SECRET_KEY_FILE ?? path.join(e.DOCKYARD_DATA_DIR, "secret.key"),
    secretOldKeyFiles: (e.DOCKYARD_SECRET_OLD_KEY_FILES ?? "")
      .split(",")
      .map((f) => f.trim())
      .filter(Boolean),
    pkiDir: e.DOCKYARD_PKI_DIR ?? path.join(e.DOCKYARD_DATA_DIR, "pki"),
    tls:
      e.DOCKYARD_TLS_CERT_FILE && e.DOCKYARD_TLS_KEY_FILE && e.DOCKYARD_TLS_CA_FILE
        ? { certFile: e.DOCKYARD_TLS_CERT_FILE, keyFile: e.DOCKYARD_TLS_KEY_FILE, caFile: e.DOCKYARD_TLS_CA_FILE }
        : null,
    tlsSans: e.DOCKYARD_TLS_SANS.split(",")
      .map((x) => x.trim())
      .filter(Boolean),
    insecure: e.DOCKYARD_INSECURE === "true" || e.DOCKYARD_INSECURE === "1",
    stallGrace: e.DOCKYARD_STALL_GRACE === "true",
    registry: e.DOCKYARD_REGISTRY
      ? {
          address: e.DOCKYARD_REGISTRY,
          username: e.DOCKYARD_REGISTRY_USERNAME ?? null,
          passwordSecret: e.DOCKYARD_REGISTRY_PASSWORD_SECRET ?? null,
        }
      : null,
    notify: {
      allowPrivate: e.DOCKYARD_NOTIFY_ALLOW_PRIVATE.split(",")
        .map((x) => x.trim())
        .filter(Boolean),
      fallbackChannel: e.DOCKYARD_NOTIFY_FALLBACK_CHANNEL ?? null,
      retryScale: e.DOCKYARD_NOTIFY_RETRY_SCALE,
      leaseMs: e.DOCKYARD_NOTIFY_LEASE_MS,
    },
    schedules: { continuousIntervalMs: e.DOCKYARD_CONTINUOUS_INTERVAL, pollMs: e.DOCKYARD_SCHEDULE_POLL_MS },
    apiRateLimit:
      e.DOCKYARD_API_RATE_PER_S > 0 ? { perSecond: e.DOCKYARD_API_RATE_PER_S, burst: e.DOCKYARD_API_RATE_BURST } : null,
  };
}

/** Every variable the server reads (checked against `.env.example` by a test). */
export const SERVER_ENV_VARS = Object.keys(schema.shape);
