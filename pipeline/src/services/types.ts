// What a service is, once its file (and env file) are read and checked: the part that makes a
// revision (image, env, command, port, health, placement) and the part that says how an update
// rolls (update:). The file format and its parser are in service-file.ts.

/** How a replica shows it is ready: an HTTP GET answering `status`, or a command exiting 0. */
export interface ServiceHealth {
  http: { path: string; status: number } | null;
  command: string[] | null;
  intervalMs: number;
  timeoutMs: number;
  /** The check must pass this long without a failure before the proxy sends the replica a request. */
  minHealthyMs: number;
}

/** A secret a replica reads from its environment: `env` set from secret `secret` (never stored in clear). */
export interface ServiceSecretRef {
  env: string;
  secret: string;
}

/** How an update rolls (not part of a revision: a rollback rolls with the update's own settings). */
export interface ServiceUpdatePolicy {
  /** Replicas started at once on a host (hosts roll one after another). */
  maxParallel: number;
  /** After the last host: old replicas stay warm this long, and a new one dying rolls back. */
  watchWindowMs: number;
  /** A new replica not healthy by then fails the update (rolled back). */
  healthTimeoutMs: number;
  /** In-flight requests of an old replica finish within this, then it is taken out anyway. */
  drainTimeoutMs: number;
}

/** A service as its file declares it. */
export interface ServiceDefinition {
  name: string;
  /** The image; null when the file leaves it to the update-service stage's `image:`. */
  image: string | null;
  replicas: number;
  /** Agents whose labels match these run replicas (they must offer docker). */
  agents: Record<string, string>;
  /** At most this many of the matching agents (the first by name); null: all of them. */
  hosts: number | null;
  /** The port the replica serves on inside its container. */
  port: number;
  /** The service's stable address on every host that runs it: this port on the agent's service address. */
  proxyPort: number;
  /** Instead of the image's own command; null: the image's. */
  command: string[] | null;
  /** Plain values: the env file's entries, overridden by `env:`. */
  env: Record<string, string>;
  /** Values written `${{ secrets.NAME }}` in the env file or in `env:`. */
  secrets: ServiceSecretRef[];
  /** The env file's path in the run's source (as the file names it), or null. */
  envFile: string | null;
  health: ServiceHealth;
  /** SIGTERM, then SIGKILL after this. */
  stopGraceMs: number;
  update: ServiceUpdatePolicy;
}

/** What one revision runs: everything a replica is made from. Two updates with equal specs are one revision. */
export interface ServiceRevisionSpec {
  image: string;
  env: Record<string, string>;
  secrets: ServiceSecretRef[];
  command: string[] | null;
  port: number;
  health: ServiceHealth;
  stopGraceMs: number;
  replicas: number;
}
