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
}

/** Validated connection settings for client commands. */
export interface ClientConfig {
  /** "host:port" of the control plane's gRPC listener. */
  server: string;
  /** API token sent as `authorization: Bearer`; undefined sends none. */
  token: string | undefined;
}

/** Flags win over env (DOCKYARD_SERVER, DOCKYARD_TOKEN), env over defaults. */
export function loadClientConfig(flags: GlobalOptions, env: Env = process.env): ClientConfig {
  const server = nonEmpty(flags.server) ?? nonEmpty(env.DOCKYARD_SERVER) ?? DEFAULT_SERVER;
  const token = nonEmpty(flags.token) ?? nonEmpty(env.DOCKYARD_TOKEN);
  return { server, token };
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
