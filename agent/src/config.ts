// Agent configuration: the only place that reads the environment.
import { readFileSync } from "node:fs";
import os from "node:os";
import { z } from "zod";
import { PROTOCOL_VERSION, splitJoinToken } from "@dockyard/proto";
import { LABEL_KEY_PATTERN, LABEL_KEY_RULE } from "@dockyard/pipeline";

/**
 * One `key=value` of DOCKYARD_AGENT_LABELS: the key as everywhere (LABEL_KEY_PATTERN), the value up to 128 characters.
 */
function isLabel(item: string): boolean {
  const eq = item.indexOf("=");
  return eq > 0 && LABEL_KEY_PATTERN.test(item.slice(0, eq)) && /^[^,]{0,128}$/.test(item.slice(eq + 1));
}

const schema = z.object({
  DOCKYARD_SERVER_URL: z
    .string()
    .regex(
      /^[^\s/:,]+:\d{1,5}(,[^\s/:,]+:\d{1,5})*$/,
      "expected host:port of the server's gRPC endpoint, or a comma-separated list of replicas",
    )
    .default("127.0.0.1:7400"),
  DOCKYARD_NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  DOCKYARD_NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "expected a NATS subject prefix")
    .default("dockyard"),
  DOCKYARD_JOIN_TOKEN: z
    .string({ error: "is required (or DOCKYARD_JOIN_TOKEN_FILE)" })
    .min(16, "join token must be at least 16 characters"),
  DOCKYARD_AGENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ - (max 63)")
    .default(os.hostname().slice(0, 63)),
  DOCKYARD_AGENT_LABELS: z
    .string()
    .default("")
    .refine(
      (s) => s === "" || s.split(",").every((p) => isLabel(p.trim())),
      `expected k=v,k2=v2 (each key ${LABEL_KEY_RULE})`,
    ),
  /** off: no host facts (os, arch, cpus, memory, docker) among the labels (host-facts.ts). */
  DOCKYARD_AGENT_HOST_LABELS: z.enum(["on", "off"]).default("on"),
  DOCKYARD_AGENT_CAPACITY: z.coerce.number().int().min(1).max(256).default(2),
  DOCKYARD_AGENT_STATE_DIR: z.string().min(1).default(".dockyard/agent"),
  DOCKYARD_AGENT_EXECUTOR: z.enum(["docker", "shell", "auto"]).default("auto"),
  DOCKER_HOST: z.string().default("unix:///var/run/docker.sock"),
  DOCKYARD_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  DOCKYARD_CA_FILE: z.string().min(1).optional(),
  DOCKYARD_CA_FINGERPRINT: z
    .string()
    .regex(/^(sha256:)?[0-9a-fA-F]{64}$/, "expected the 64 hex digits of the CA's SHA-256 fingerprint")
    .optional(),
  DOCKYARD_INSECURE: z.enum(["true", "false", "1", "0"]).default("false"),
  /** off: the agent never stops a stage it cannot renew. Only for tests (the positive control of the fence tests). */
  DOCKYARD_AGENT_FENCE: z.enum(["on", "off"]).default("on"),
  /** The engine's BuildKit cache is pruned to this after every build (default 10 GiB). */
  DOCKYARD_BUILD_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 50)
    .default(10 * 1024 ** 3),
  /** The host the services' proxies bind (service-step); 0.0.0.0 is reported as the host name. */
  DOCKYARD_SERVICE_ADDRESS: z
    .string()
    .regex(/^[0-9A-Za-z.:-]{1,253}$/, "expected an IP address or host name to bind the services' proxies on")
    .default("0.0.0.0"),
  /** ui-test stages push their dockyard_synthetic_* metrics here (unset: no push, the stage's log says so). */
  DOCKYARD_PUSHGATEWAY_URL: z
    .url({ protocol: /^https?$/, error: "expected the Pushgateway's http(s) URL, e.g. http://127.0.0.1:9091" })
    .optional(),
  /** TEST ONLY: the protocol version the agent claims at registration (the upgrade test's older agent). */
  DOCKYARD_TEST_PROTOCOL_VERSION: z.coerce.number().int().min(0).max(1000).optional(),
});

export interface AgentConfig {
  /** The first server address (for messages). */
  serverUrl: string;
  /** Every replica's address; the agent fails over between them. */
  servers: string[];
  natsUrl: string;
  natsPrefix: string;
  joinToken: string;
  name: string;
  labels: Record<string, string>;
  /** Add the host's facts to `labels` at start (agentMain). */
  hostLabels: boolean;
  capacity: number;
  /** Budget of the engine's build cache (pruned after each build). */
  buildCacheBytes: number;
  stateDir: string;
  executor: "docker" | "shell" | "auto";
  dockerHost: string;
  logLevel: z.infer<typeof schema>["DOCKYARD_LOG_LEVEL"];
  /** The server's CA certificate file, when given (otherwise pinned by fingerprint). */
  caFile: string | null;
  /** Lowercase hex SHA-256 of the CA: from the join token's suffix or DOCKYARD_CA_FINGERPRINT. */
  caFingerprint: string | null;
  /** Plaintext gRPC to a server started with DOCKYARD_INSECURE (local experiments). */
  insecure: boolean;
  /** Stop an attempt whose lease could not be renewed for its fence (false only in tests). */
  fence: boolean;
  /** The host the services' proxies bind. */
  serviceAddress: string;
  /** The Pushgateway ui-test stages push to; null: none. */
  pushgatewayUrl: string | null;
  /** The protocol version sent at registration: PROTOCOL_VERSION unless a test claims another. */
  protocolVersion: number;
}

export class AgentConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const i = part.indexOf("=");
    labels[part.slice(0, i)] = part.slice(i + 1);
  }
  return labels;
}

/** Parse and validate; throws AgentConfigError listing every bad variable at once. */
export function loadAgentConfig(env: Record<string, string | undefined> = process.env): AgentConfig {
  const problems: string[] = [];
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== "") input[key] = v;
  }
  const file = env.DOCKYARD_JOIN_TOKEN_FILE;
  if (file) {
    try {
      input.DOCKYARD_JOIN_TOKEN = readFileSync(file, "utf8").trim();
    } catch (err) {
      problems.push(`DOCKYARD_JOIN_TOKEN_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) for (const i of parsed.error.issues) problems.push(`${i.path.join(".")}: ${i.message}`);
  if (problems.length > 0 || !parsed.success) throw new AgentConfigError(problems);
  const e = parsed.data;
  const token = splitJoinToken(e.DOCKYARD_JOIN_TOKEN);
  const fingerprint = e.DOCKYARD_CA_FINGERPRINT?.replace(/^sha256:/, "").toLowerCase() ?? token.caFingerprint;
  const insecure = e.DOCKYARD_INSECURE === "true" || e.DOCKYARD_INSECURE === "1";
  if (!insecure && !fingerprint && !e.DOCKYARD_CA_FILE) {
    throw new AgentConfigError([
      "DOCKYARD_JOIN_TOKEN: has no CA fingerprint (create tokens with `dockyard token create`, which appends it), " +
        "and neither DOCKYARD_CA_FILE nor DOCKYARD_CA_FINGERPRINT is set: the agent cannot verify the server",
    ]);
  }
  return {
    serverUrl: e.DOCKYARD_SERVER_URL.split(",")[0]!,
    servers: e.DOCKYARD_SERVER_URL.split(","),
    natsUrl: e.DOCKYARD_NATS_URL,
    natsPrefix: e.DOCKYARD_NATS_PREFIX,
    joinToken: token.secret,
    name: e.DOCKYARD_AGENT_NAME,
    labels: parseLabels(e.DOCKYARD_AGENT_LABELS),
    hostLabels: e.DOCKYARD_AGENT_HOST_LABELS === "on",
    capacity: e.DOCKYARD_AGENT_CAPACITY,
    stateDir: e.DOCKYARD_AGENT_STATE_DIR,
    executor: e.DOCKYARD_AGENT_EXECUTOR,
    dockerHost: e.DOCKER_HOST,
    buildCacheBytes: e.DOCKYARD_BUILD_CACHE_BYTES,
    logLevel: e.DOCKYARD_LOG_LEVEL,
    caFile: e.DOCKYARD_CA_FILE ?? null,
    caFingerprint: fingerprint,
    insecure,
    fence: e.DOCKYARD_AGENT_FENCE === "on",
    serviceAddress: e.DOCKYARD_SERVICE_ADDRESS,
    pushgatewayUrl: e.DOCKYARD_PUSHGATEWAY_URL ?? null,
    protocolVersion: e.DOCKYARD_TEST_PROTOCOL_VERSION ?? PROTOCOL_VERSION,
  };
}

export const AGENT_ENV_VARS = [...Object.keys(schema.shape), "DOCKYARD_JOIN_TOKEN_FILE"];
