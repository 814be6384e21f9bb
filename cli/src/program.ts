// The commander program: global options, every command, and how failures
// become exit codes.
import { Command, CommanderError } from "commander";
import type { CliContext } from "./cli-context";
import { registerAdminCommands } from "./commands/admin";
import { registerRerunCommand } from "./commands/rerun";
import { registerApprovalCommands } from "./commands/approve";
import { registerListCommands } from "./commands/list";
import { registerAgentCommands } from "./commands/agents";
import { registerEnvsCommand } from "./commands/envs";
import { registerProcessCommands } from "./commands/processes";
import { registerRunCommands } from "./commands/run";
import { registerSecretCommands } from "./commands/secret";
import { registerUserCommands } from "./commands/users";
import { registerChannelCommands } from "./commands/channels";
import { registerHookCommands } from "./commands/hooks";
import { registerRepoCommands } from "./commands/repos";
import { registerValidate } from "./commands/validate";
import { registerServiceCommands } from "./commands/services";
import { registerAlertCommands } from "./commands/alerts";
import { registerArtifactCommands } from "./commands/artifacts";
import { registerScheduleCommands } from "./commands/schedules";
import { releaseVersionText } from "@dockyard/proto";
import { DEFAULT_SERVER } from "./config";
import { CliError, EXIT_FAILURE, EXIT_USAGE, errorText } from "./errors";

/** The `dockyard` program writing through `cli`; commander never calls process.exit. */
export function buildProgram(cli: CliContext): Command {
  const program = new Command("dockyard")
    .description("Dockyard: submit and follow builds on the Dockyard build farm, or run its server and agents")
    .version(`dockyard ${releaseVersionText()}`, "-V, --version", "print the version and commit")
    .option("--server <addr>", `control plane gRPC address (env DOCKYARD_SERVER, default ${DEFAULT_SERVER})`)
    .option("--token <token>", "API token (env DOCKYARD_TOKEN)")
    .option("--ca <file>", "the server's CA certificate, to verify it (env DOCKYARD_CA_FILE)")
    .option(
      "--ca-fingerprint <hex>",
      "the server CA's SHA-256 fingerprint, pinned instead of a CA file (env DOCKYARD_CA_FINGERPRINT)",
    )
    .option("--insecure", "plaintext gRPC, for a server started with DOCKYARD_INSECURE (env DOCKYARD_INSECURE)")
    .configureOutput({ writeOut: (s) => cli.out.write(s), writeErr: (s) => cli.err.write(s) })
    .showHelpAfterError("(add --help for usage)")
    // Settings below are inherited by subcommands created after this line.
    .exitOverride();
  registerValidate(program, cli);
  registerRunCommands(program, cli);
  registerListCommands(program, cli);
  registerAgentCommands(program, cli);
  registerEnvsCommand(program, cli);
  registerServiceCommands(program, cli);
  registerAlertCommands(program, cli);
  registerArtifactCommands(program, cli);
  registerScheduleCommands(program, cli);
  registerAdminCommands(program, cli);
  registerRerunCommand(program, cli);
  registerApprovalCommands(program, cli);
  registerSecretCommands(program, cli);
  registerUserCommands(program, cli);
  registerChannelCommands(program, cli);
  registerHookCommands(program, cli);
  registerRepoCommands(program, cli);
  registerProcessCommands(program, cli);
  return program;
}

/**
 * The process exit code for an error thrown out of parsing or a command:
 * 0 after --help, 2 for usage errors (commander's and UsageError), the
 * CliError's own code, 1 for anything else.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return 0;
    if (err.code === "commander.help") return err.exitCode === 0 ? 0 : EXIT_USAGE;
    return EXIT_USAGE;
  }
  if (err instanceof CliError) return err.exitCode;
  return EXIT_FAILURE;
}

/**
 * Parses `argv` (without node and script), runs the command and returns the
 * exit code. Errors are printed to `cli.err` here, once: commander prints its
 * own; CliErrors print their message; anything else prints message and stack,
 * since it is a bug.
 */
export async function runCli(argv: string[], cli: CliContext): Promise<number> {
  const program = buildProgram(cli);
  try {
    await program.parseAsync(argv, { from: "user" });
    return cli.exitCode;
  } catch (err) {
    if (err instanceof CliError) cli.err.write(errorText(err));
    else if (!(err instanceof CommanderError)) {
      cli.err.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return exitCodeFor(err);
  }
}
