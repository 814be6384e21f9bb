// `dockyard server` and `dockyard agent`: long-running processes implemented
// in @dockyard/control-plane and @dockyard/agent, loaded only when asked for.
import { Option } from "commander";
import type { Command } from "commander";
import { checkLabelKeys, labelsArg, parseCapacity, parseLabels } from "../args";
import type { CliContext } from "../cli-context";
import { envOverlay } from "../config";
import type { Env } from "../config";
import { CliError } from "../errors";
import { readEnvFile } from "../env-file";

/** `agent` flags as parsed (labels already validated and canonical). */
export interface AgentFlags {
  server?: string;
  nats?: string;
  tokenFile?: string;
  ca?: string;
  caFingerprint?: string;
  insecure?: boolean;
  labels?: string;
  capacity?: number;
  name?: string;
  stateDir?: string;
  executor?: string;
  check?: boolean;
  envFile?: string;
}

/** `server` flags as parsed. */
export interface ServerFlags {
  grpcListen?: string;
  httpListen?: string;
  nats?: string;
  databaseUrl?: string;
  dataDir?: string;
}

/** The env variables `agentMain` reads, from the flags given (unset flags are left out). */
export function agentEnv(f: AgentFlags): Env {
  return {
    DOCKYARD_SERVER_URL: f.server,
    DOCKYARD_NATS_URL: f.nats,
    DOCKYARD_JOIN_TOKEN_FILE: f.tokenFile,
    DOCKYARD_CA_FILE: f.ca,
    DOCKYARD_CA_FINGERPRINT: f.caFingerprint,
    DOCKYARD_INSECURE: f.insecure ? "true" : undefined,
    DOCKYARD_AGENT_LABELS: f.labels,
    DOCKYARD_AGENT_CAPACITY: f.capacity === undefined ? undefined : String(f.capacity),
    DOCKYARD_AGENT_NAME: f.name,
    DOCKYARD_AGENT_STATE_DIR: f.stateDir,
    DOCKYARD_AGENT_EXECUTOR: f.executor,
  };
}

/** The env variables `serverMain` reads, from the flags given. */
export function serverEnv(f: ServerFlags): Env {
  return {
    DOCKYARD_GRPC_LISTEN: f.grpcListen,
    DOCKYARD_HTTP_LISTEN: f.httpListen,
    DOCKYARD_NATS_URL: f.nats,
    DATABASE_URL: f.databaseUrl,
    DOCKYARD_DATA_DIR: f.dataDir,
  };
}

type MainFn = (env: Env) => Promise<unknown>;

/**
 * Set by scripts/build.ts (esbuild's `define`) in the bundled CLI: the bundles of the server and
 * the agent, as paths from the repository root. Not defined when the sources run under tsx.
 */
declare const DOCKYARD_BUNDLES: Record<string, string> | undefined;

/**
 * Imports `pkg` (or, in the bundled CLI, its bundle) and returns its `exportName` function.
 * The specifier is a variable on purpose: those packages are not type-checked from here and
 * not loaded by client commands.
 */
async function loadMain(pkg: string, exportName: string): Promise<MainFn> {
  const bundle = typeof DOCKYARD_BUNDLES === "undefined" ? undefined : DOCKYARD_BUNDLES[pkg];
  // import.meta.url is this source file's URL under tsx and in the bundle alike (scripts/build.ts).
  const specifier = bundle === undefined ? pkg : new URL(`../../../${bundle}`, import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(`cannot load ${pkg}: ${err instanceof Error ? err.message : String(err)}`, 1, { cause: err });
  }
  const fn = mod[exportName];
  if (typeof fn !== "function") throw new CliError(`${pkg} does not export ${exportName}()`);
  return fn as MainFn;
}

/** Registers `server` and `agent`. */
export function registerProcessCommands(program: Command, cli: CliContext): void {
  program
    .command("server")
    .description("run the control plane (gRPC + HTTP); configured by flags or DOCKYARD_* env")
    .option("--grpc-listen <addr>", "gRPC listen address (DOCKYARD_GRPC_LISTEN)")
    .option("--http-listen <addr>", "HTTP listen address (DOCKYARD_HTTP_LISTEN)")
    .option("--nats <url>", "NATS URL (DOCKYARD_NATS_URL)")
    .option("--database-url <url>", "Postgres URL (DATABASE_URL)")
    .option("--data-dir <dir>", "data directory (DOCKYARD_DATA_DIR)")
    .action(async (opts: ServerFlags) => {
      const serverMain = await loadMain("@dockyard/control-plane", "serverMain");
      await serverMain(envOverlay(serverEnv(opts), cli.env));
    });

  program
    .command("agent")
    .description("run a build agent; configured by flags or DOCKYARD_* env")
    // --server shares its name with the global flag, so commander stores it on the
    // program; the action reads it (and --ca, --insecure) with optsWithGlobals().
    // The join token is never a flag: it would show in `ps`.
    .option("--server <url>", "control plane gRPC address (DOCKYARD_SERVER_URL)")
    .option(
      "--token-file <file>",
      "file holding the join token from `dockyard token create` (DOCKYARD_JOIN_TOKEN_FILE, or DOCKYARD_JOIN_TOKEN)",
    )
    .option("--nats <url>", "NATS URL (DOCKYARD_NATS_URL)")
    .option("--labels <k=v,...>", "labels stages can require (DOCKYARD_AGENT_LABELS)", labelsArg)
    .option("--capacity <n>", "concurrent stages, 1-256 (DOCKYARD_AGENT_CAPACITY)", parseCapacity)
    .option("--name <name>", "agent name (DOCKYARD_AGENT_NAME)")
    .option("--state-dir <dir>", "where the agent keeps its id and spool (DOCKYARD_AGENT_STATE_DIR)")
    .addOption(
      new Option("--executor <kind>", "default executor (DOCKYARD_AGENT_EXECUTOR)").choices(["docker", "shell"]),
    )
    .option(
      "--env-file <file>",
      "read settings from this KEY=VALUE file first, as the unit's EnvironmentFile= (e.g. /etc/dockyard/agent.env)",
    )
    .option("--check", "check Docker, the CA pin, the server and NATS, print what is wrong, and exit (1 if any failed)")
    .action(async (_opts: AgentFlags, cmd: Command) => {
      const flags = cmd.optsWithGlobals<AgentFlags>();
      if (flags.labels) await checkLabelKeys(parseLabels(flags.labels));
      const base = flags.envFile ? { ...cli.env, ...readEnvFile(flags.envFile) } : cli.env;
      const env = envOverlay(agentEnv(flags), base);
      if (flags.check) {
        const agentCheck = await loadMain("@dockyard/agent", "agentCheck");
        if ((await agentCheck(env)) !== true) throw new CliError("some agent checks failed (see above)", 1);
        return;
      }
      const agentMain = await loadMain("@dockyard/agent", "agentMain");
      await agentMain(env);
    });
}
