// `dockyard cancel RUN`, `dockyard token create|revoke`.
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { RUN_ARG } from "../args";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError } from "../errors";
import { colorState } from "../watch/status-format";

/** Registers `cancel` and `token`. */
export function registerAdminCommands(program: Command, cli: CliContext): void {
  program
    .command("cancel")
    .description("cancel a run; prints its resulting state")
    .argument("<run>", RUN_ARG)
    .action(async (runId: string, _opts: unknown, cmd: Command) => {
      const run = await withClient(cli.clientConfig(cmd), async (client) => (await client.cancelRun({ runId }, { timeoutMs: CALL_TIMEOUT_MS })).run, {
        notFound: `run not found: ${runId}`,
        preferServerNotFound: true,
      });
      if (!run) throw new CliError(`the server returned no run for ${runId}`);
      cli.out.write(`run ${run.id} ${colorState(run.state, cli.colors)}\n`);
    });

  const token = program.command("token").description("manage agent join tokens");
  token
    .command("create")
    .description("create a join token for agents; the token is printed once")
    .option("-d, --description <text>", "what the token is for", "")
    .action(async (opts: { description: string }, cmd: Command) => {
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.createJoinToken({ description: opts.description }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(`${res.token}\n`);
      cli.err.write(`created join token ${res.id}; it is shown only this once (revoke: dockyard token revoke ${res.id})\n`);
    });
  token
    .command("revoke")
    .description("revoke a join token by id, and every agent registered with it (their running stages end as lost)")
    .argument("<id>", "join token id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const res = await withClient(cli.clientConfig(cmd), (client) => client.revokeJoinToken({ id }, { timeoutMs: CALL_TIMEOUT_MS }), {
        notFound: `join token not found: ${id}`,
      });
      const n = res.agentsRevoked;
      cli.out.write(`revoked join token ${id} and ${n} agent${n === 1 ? "" : "s"} registered with it\n`);
    });
}
