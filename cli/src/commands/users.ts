// `dockyard users add|list|disable` and `dockyard audit`: who may do what, and who did what.
import type { Command } from "commander";
import type { AuditEntry, User } from "@dockyard/proto";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { UsageError } from "../errors";
import { renderTable } from "../format/table";
import { isoOrNull, localDateTime } from "../format/time";
import { toJsonText } from "../json";
import { MAX_AUDIT_LIMIT } from "@dockyard/web";

const ROLE_HELP = "viewer (read), operator (run, cancel), approver (decide approvals), admin (everything)";

export interface UserJson {
  name: string;
  roles: string[];
  createdAt: string | null;
  disabledAt: string | null;
  activeTokens: number;
}

export interface AuditJson {
  id: number;
  at: string | null;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export function registerUserCommands(program: Command, cli: CliContext): void {
  const users = program.command("users").description(`manage users and their roles: ${ROLE_HELP}`);
  users
    .command("add")
    .description("add a user with one or more roles; give them a token with: dockyard token create --user NAME")
    .argument("<name>", "user name: 1-64 of a-z 0-9 . _ @ -")
    .option(
      "-r, --role <role>",
      `a role (repeat for more): ${ROLE_HELP}`,
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .action(async (name: string, opts: { role: string[] }, cmd: Command) => {
      if (opts.role.length === 0)
        throw new UsageError("users add needs at least one --role (viewer, operator, approver, admin)");
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.addUser({ name, roles: opts.role }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(`added user ${res.user?.name ?? name} (${(res.user?.roles ?? opts.role).join(", ")})\n`);
    });
  users
    .command("list")
    .description("list users: name, roles, created, disabled, live API tokens")
    .option("--json", "print a JSON array of users")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = (
        await withClient(cli.clientConfig(cmd), (client) => client.listUsers({}, { timeoutMs: CALL_TIMEOUT_MS }))
      ).users;
      cli.out.write(opts.json ? toJsonText(list.map(userJson)) : usersTable(list, cli.colors.bold));
    });
  users
    .command("disable")
    .description(
      "disable a user: every token of theirs stops working at once (users are never deleted: the audit log names them)",
    )
    .argument("<name>", "user name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(
        cli.clientConfig(cmd),
        (client) => client.disableUser({ name }, { timeoutMs: CALL_TIMEOUT_MS }),
        {
          notFound: `user not found: ${name}`,
        },
      );
      cli.out.write(`disabled user ${name}; their tokens no longer work\n`);
    });

  program
    .command("whoami")
    .description("the user your token belongs to, and its roles")
    .action(async (_opts: unknown, cmd: Command) => {
      const me = await withClient(cli.clientConfig(cmd), (client) => client.whoAmI({}, { timeoutMs: CALL_TIMEOUT_MS }));
      cli.out.write(`${me.user} (${me.roles.join(", ")})\n`);
    });

  program
    .command("audit")
    .description(
      "show the audit log, oldest of the selection first: token, user, secret, agent, run and approval changes",
    )
    .option("-n, --limit <n>", `how many of the newest entries (1-${MAX_AUDIT_LIMIT})`, "50")
    .option("--json", "print a JSON array of entries")
    .action(async (opts: { limit: string; json?: boolean }, cmd: Command) => {
      const limit = /^\d{1,4}$/.test(opts.limit) ? Number(opts.limit) : NaN;
      if (!(limit >= 1 && limit <= MAX_AUDIT_LIMIT))
        throw new UsageError(
          `invalid --limit '${opts.limit.slice(0, 32)}': expected a whole number from 1 to ${MAX_AUDIT_LIMIT}`,
        );
      const entries = (
        await withClient(cli.clientConfig(cmd), (client) => client.listAudit({ limit }, { timeoutMs: CALL_TIMEOUT_MS }))
      ).entries;
      cli.out.write(opts.json ? toJsonText(entries.map(auditJson)) : auditTable(entries, cli.colors.bold));
    });
}

export function userJson(u: User): UserJson {
  return {
    name: u.name,
    roles: u.roles,
    createdAt: isoOrNull(u.createdAtMs),
    disabledAt: isoOrNull(u.disabledAtMs),
    activeTokens: u.activeTokens,
  };
}

export function auditJson(e: AuditEntry): AuditJson {
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(e.detailsJson || "{}") as Record<string, unknown>;
  } catch {
    details = { unparsed: e.detailsJson };
  }
  return { id: Number(e.id), at: isoOrNull(e.atMs), actor: e.actor, action: e.action, target: e.target, details };
}

function usersTable(list: User[], bold: (s: string) => string): string {
  if (list.length === 0) return "no users\n";
  const rows = list.map((u) => [
    u.name,
    u.roles.join(","),
    localDateTime(Number(u.createdAtMs)),
    Number(u.disabledAtMs) > 0 ? localDateTime(Number(u.disabledAtMs)) : "-",
    String(u.activeTokens),
  ]);
  return renderTable(["NAME", "ROLES", "CREATED", "DISABLED", "TOKENS"], rows, { header: bold });
}

function auditTable(entries: AuditEntry[], bold: (s: string) => string): string {
  if (entries.length === 0) return "no audit entries\n";
  const rows = entries.map((e) => [
    localDateTime(Number(e.atMs)),
    e.actor,
    e.action,
    e.target,
    e.detailsJson === "{}" ? "" : e.detailsJson,
  ]);
  return renderTable(["AT", "ACTOR", "ACTION", "TARGET", "DETAILS"], rows, { header: bold });
}
