// `dockyard hooks add|list|rm`: incoming decision webhooks for chat tools. A hook decides
// approvals as one user, from POST /hooks/v1/approvals/NAME signed as Standard Webhooks with
// the key `add` prints (once: the server keeps it sealed and never shows it again).
import type { Command } from "commander";
import type { HookInfo } from "@dockyard/proto";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { UsageError } from "../errors";
import { renderTable } from "../format/table";
import { isoOrNull, localDateTime } from "../format/time";
import { toJsonText } from "../json";

export interface HookJson {
  name: string;
  user: string;
  createdAt: string | null;
}

export function registerHookCommands(program: Command, cli: CliContext): void {
  const hooks = program
    .command("hooks")
    .description("incoming decision webhooks for chat tools (POST /hooks/v1/approvals/NAME, Standard Webhooks)");
  hooks
    .command("add")
    .description("add a hook deciding approvals as --user; prints its signing key once")
    .argument("<name>", "hook name: 1-40 of A-Z a-z 0-9 . _ -")
    .option("-u, --user <user>", "the user whose decisions the hook makes (the approval's approvers must list them)")
    .action(async (name: string, opts: { user?: string }, cmd: Command) => {
      if (!opts.user) throw new UsageError("hooks add needs --user USER: the user whose decisions the hook makes");
      const res = await withClient(
        cli.clientConfig(cmd),
        (client) => client.addHook({ name, user: opts.user! }, { timeoutMs: CALL_TIMEOUT_MS }),
        {
          notFound: `user not found: ${opts.user}`,
        },
      );
      cli.out.write(
        `added hook ${name} deciding as ${res.hook?.user ?? opts.user}\n` +
          `POST ${"/hooks/v1/approvals/" + name} with body { "run": "PIPELINE#N", "stage": "NAME", "decision": "approve" | "reject", "comment": "..." }\n` +
          `signing key (shown once; keep it in the chat tool): ${res.key}\n`,
      );
    });
  hooks
    .command("list")
    .description("list hooks: name, user, created (never their keys)")
    .option("--json", "print a JSON array of hooks")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = (
        await withClient(cli.clientConfig(cmd), (client) => client.listHooks({}, { timeoutMs: CALL_TIMEOUT_MS }))
      ).hooks;
      cli.out.write(opts.json ? toJsonText(list.map(hookJson)) : hooksTable(list, cli.colors.bold));
    });
  hooks
    .command("rm")
    .description("remove a hook and its key: its requests are refused from then on")
    .argument("<name>", "hook name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(cli.clientConfig(cmd), (client) => client.removeHook({ name }, { timeoutMs: CALL_TIMEOUT_MS }), {
        notFound: `hook not found: ${name}`,
      });
      cli.out.write(`removed hook ${name}\n`);
    });
}

function hookJson(h: HookInfo): HookJson {
  return { name: h.name, user: h.user, createdAt: isoOrNull(h.createdAtMs) };
}

function hooksTable(list: HookInfo[], bold: (s: string) => string): string {
  if (list.length === 0) return "no hooks\n";
  return renderTable(
    ["NAME", "USER", "CREATED"],
    list.map((h) => [h.name, h.user, localDateTime(Number(h.createdAtMs))]),
    { header: bold },
  );
}
