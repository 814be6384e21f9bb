// The only module that reads process.env: resolves the global options and
// decides whether to colour output.
/** Server address used when neither --server nor DOCKYARD_SERVER is given. */
export const DEFAULT_SERVER = "127.0.0.1:7400";

/** Environment as read by the CLI; tests pass a plain object. */
export type Env = Record<string, string | undefined>;

/** Global flags as commander parsed them (unset when not given). */
export interface GlobalOptions {
  server?: string;
  token?: string;
  ca?: string;
  caFingerprint?: string;
  insecure?: boolean;
}

/** Validated connection settings for client commands. */
export interface ClientConfig {
  /** "host:port" of the control plane's gRPC listener. */
  server: string;
  /** API token sent as `authorization: Bearer`; undefined sends none. */
  token: string | undefined;
  /** How the server is verified: its CA file, the CA's fingerprint (fetched and pinned), or plaintext. */
  trust:
    | { kind: "ca-file"; file: string }
    | { kind: "fingerprint"; fingerprint: string }
    | { kind: "insecure" }
    | { kind: "none" };
}

/** Flags win over env (DOCKYARD_SERVER, DOCKYARD_TOKEN), env over defaults. */
export function loadClientConfig(flags: GlobalOptions, env: Env = process.env): ClientConfig {
  const server = nonEmpty(flags.server) ?? nonEmpty(env.DOCKYARD_SERVER) ?? DEFAULT_SERVER;
  const token = nonEmpty(flags.token) ?? nonEmpty(env.DOCKYARD_TOKEN);
  const ca = nonEmpty(flags.ca) ?? nonEmpty(env.DOCKYARD_CA_FILE);
  const fingerprint = nonEmpty(flags.caFingerprint) ?? nonEmpty(env.DOCKYARD_CA_FINGERPRINT);
  const insecure = flags.insecure === true || env.DOCKYARD_INSECURE === "true" || env.DOCKYARD_INSECURE === "1";
  const trust: ClientConfig["trust"] = insecure
    ? { kind: "insecure" }
    : ca
      ? { kind: "ca-file", file: ca }
      : fingerprint
        ? { kind: "fingerprint", fingerprint: fingerprint.replace(/^sha256:/, "").toLowerCase() }
        : { kind: "none" };
  return { server, token, trust };
}

/** Colours only on a terminal and only when NO_COLOR is unset or empty (no-color.org). */
export function colorEnabled(stream: { isTTY?: boolean }, env: Env = process.env): boolean {
  return stream.isTTY === true && !nonEmpty(env.NO_COLOR);
}

/** The environment handed to `serverMain`/`agentMain`, with flag values laid over it. */
export function envOverlay(mapped: Env, env: Env = process.env): Env {
  const out: Env = { ...env };
  for (const [key, value] of Object.entries(mapped)) if (value !== undefined) out[key] = value;
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
