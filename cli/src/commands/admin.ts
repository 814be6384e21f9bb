// `dockyard cancel RUN`, `dockyard token create|list|revoke`.
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { RUN_ARG } from "../args";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError } from "../errors";
import { colorState, type Colors } from "../watch/status-format";
import { renderTable } from "../format/table";
import { formatAge, localDateTime } from "../format/time";
import { toJsonText, tokenJson } from "../json";
import type { TokenInfo } from "@dockyard/proto";

/** Registers `cancel` and `token`. */
export function registerAdminCommands(program: Command, cli: CliContext): void {
  program
    .command("cancel")
    .description("cancel a run; prints its resulting state")
    .argument("<run>", RUN_ARG)
    .action(async (runId: string, _opts: unknown, cmd: Command) => {
      const run = await withClient(
        cli.clientConfig(cmd),
        async (client) => (await client.cancelRun({ runId }, { timeoutMs: CALL_TIMEOUT_MS })).run,
        {
          notFound: `run not found: ${runId}`,
          preferServerNotFound: true,
        },
      );
      if (!run) throw new CliError(`the server returned no run for ${runId}`);
      cli.out.write(`run ${run.id} ${colorState(run.state, cli.colors)}\n`);
    });

  const token = program
    .command("token")
    .description("manage agent join tokens and users' API tokens; list every token");
  token
    .command("create")
    .description("create a join token for agents, or with --user an API token for that user; the token is printed once")
    .option("-d, --description <text>", "what the token is for", "")
    .option("-u, --user <name>", "create an API token of this user (it acts with the user's roles)")
    .action(async (opts: { description: string; user?: string }, cmd: Command) => {
      if (opts.user !== undefined) {
        const user = opts.user;
        const res = await withClient(
          cli.clientConfig(cmd),
          (client) => client.createApiToken({ user, description: opts.description }, { timeoutMs: CALL_TIMEOUT_MS }),
          { notFound: `user not found: ${user} (add one with: dockyard users add ${user} --role viewer)` },
        );
        cli.out.write(`${res.token}\n`);
        cli.err.write(
          `created API token ${res.id} for user ${user}; it is shown only this once (revoke: dockyard token revoke ${res.id})\n`,
        );
        return;
      }
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.createJoinToken({ description: opts.description }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(`${res.token}\n`);
      cli.err.write(
        `created join token ${res.id}; it is shown only this once (revoke: dockyard token revoke ${res.id})\n`,
      );
    });
  token
    .command("list")
    .description("list join and API tokens: id, kind, user, description, created, last used, revoked (never a secret)")
    .option("--json", "print a JSON array of tokens")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const tokens = (
        await withClient(cli.clientConfig(cmd), (client) => client.listTokens({}, { timeoutMs: CALL_TIMEOUT_MS }))
      ).tokens;
      cli.out.write(opts.json ? toJsonText(tokens.map(tokenJson)) : tokensTable(tokens, Date.now(), cli.colors));
    });
  token
    .command("revoke")
    .description(
      "revoke a token by id: an API token stops working at once; a join token also revokes every agent registered with it",
    )
    .argument("<id>", "token id (dockyard token list)")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withClient(cli.clientConfig(cmd), async (client) => {
        const found = (await client.listTokens({}, { timeoutMs: CALL_TIMEOUT_MS })).tokens.find((t) => t.id === id);
        if (!found) throw new CliError(`token not found: ${id}`);
        if (found.kind === "api") {
          await client.revokeApiToken({ id }, { timeoutMs: CALL_TIMEOUT_MS });
          cli.out.write(`revoked API token ${id} of user ${found.user}\n`);
          return;
        }
        const n = (await client.revokeJoinToken({ id }, { timeoutMs: CALL_TIMEOUT_MS })).agentsRevoked;
        cli.out.write(`revoked join token ${id} and ${n} agent${n === 1 ? "" : "s"} registered with it\n`);
      });
    });
}

/** The `token list` table; times the token was never used or revoked show as `-`. */
export function tokensTable(tokens: TokenInfo[], nowMs: number, c: Colors): string {
  if (tokens.length === 0) return "no tokens\n";
  const rows = tokens.map((t) => [
    t.id,
    t.kind,
    t.user || "-",
    t.description || "-",
    localDateTime(Number(t.createdAtMs)),
    Number(t.lastUsedAtMs) > 0 ? formatAge(Number(t.lastUsedAtMs), nowMs) : "never",
    Number(t.revokedAtMs) > 0 ? localDateTime(Number(t.revokedAtMs)) : "-",
  ]);
  return renderTable(["ID", "KIND", "USER", "DESCRIPTION", "CREATED", "LAST USED", "REVOKED"], rows, {
    header: c.bold,
    cell: (text, col) => (col === 6 && text !== "-" ? c.red(text) : text),
  });
}
