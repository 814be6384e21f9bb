// `dockyard channels add|list|rm|test|rotate` and `dockyard notifications`: where run
// notifications go and what became of each. Credentials (SMTP password, SMS token) come from
// stdin, never an argument; a webhook's signing key is printed once, at `add` and `rotate`.
import type { ChannelInfo, Delivery } from "@dockyard/proto";
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { UsageError } from "../errors";
import { renderTable } from "../format/table";
import { isoOrNull, localDateTime } from "../format/time";
import { toJsonText } from "../json";
import { readSecretValue } from "./secret";
import { MAX_NOTIFICATIONS_LIMIT } from "@dockyard/web";

/** `channels test` waits on the server for the first attempt (up to 15 s). */
const TEST_TIMEOUT_MS = 20_000;

interface AddOptions {
  type: string;
  url?: string;
  smtpUrl?: string;
  from?: string;
  to?: string[];
  template?: string;
  user?: string;
  passwordStdin?: boolean;
  tokenStdin?: boolean;
  passwordSecret?: string;
  tokenSecret?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers `channels ...` and `notifications`. */
export function registerChannelCommands(program: Command, cli: CliContext): void {
  const channels = program
    .command("channels")
    .description("notification channels (email, sms, webhook) that pipelines' notify: rules send to");

  channels
    .command("add")
    .description("add a channel; a webhook's whsec_ signing key is printed once")
    .argument("<name>", "channel name: 1-40 of A-Z a-z 0-9 . _ - starting with a letter or digit")
    .requiredOption("--type <type>", "email | sms | webhook")
    .option("--url <url>", "webhook or SMS gateway URL (http/https)")
    .option("--smtp-url <url>", "email: smtp://user@host:port or smtps://user@host:port (no password)")
    .option("--from <from>", "email: sender address; sms: sender number")
    .option("--to <to>", "recipient (repeat or comma-separate)", collect)
    .option(
      "--template <template>",
      "sms: request body with {{ to }}, {{ from }}, {{ message }} (default: Twilio's form fields)",
    )
    .option("--user <user>", "sms: basic-auth user (e.g. Twilio account SID); without it the token is a bearer token")
    .option("--password-stdin", "email: read the SMTP password from stdin")
    .option("--token-stdin", "sms: read the gateway token from stdin")
    .option("--password-secret <name>", "email: the SMTP password is this secret (dockyard secret set NAME)")
    .option("--token-secret <name>", "sms: the gateway token is this secret")
    .action(async (name: string, opts: AddOptions, cmd: Command) => {
      const given = [opts.passwordStdin, opts.tokenStdin, opts.passwordSecret, opts.tokenSecret].filter(Boolean).length;
      if (given > 1)
        throw new UsageError("give one of --password-stdin, --token-stdin, --password-secret, --token-secret");
      const secret =
        opts.passwordStdin || opts.tokenStdin
          ? await readSecretValue({ name: `channel ${name}`, stdin: cli.stdin ?? process.stdin, err: cli.err })
          : undefined;
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.addChannel(
          {
            name,
            type: opts.type,
            url: opts.url ?? "",
            smtpUrl: opts.smtpUrl ?? "",
            from: opts.from ?? "",
            to: opts.to ?? [],
            template: opts.template ?? "",
            user: opts.user ?? "",
            secret: secret ?? new Uint8Array(),
            secretName: opts.passwordSecret ?? opts.tokenSecret ?? "",
          },
          { timeoutMs: CALL_TIMEOUT_MS },
        ),
      );
      secret?.fill(0);
      cli.out.write(`channel ${name} added (${opts.type})\n`);
      if (res.webhookKey)
        cli.out.write(`signing key (shown once; receivers verify webhook-signature with it):\n${res.webhookKey}\n`);
    });

  channels
    .command("list")
    .description("list channels (no credential is shown)")
    .option("--json", "print a JSON array")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.listChannels({}, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(opts.json ? toJsonText(res.channels.map(channelJson)) : channelsTable(res.channels));
    });

  channels
    .command("rm")
    .description("remove a channel and its stored credentials")
    .argument("<name>", "channel name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(
        cli.clientConfig(cmd),
        (client) => client.removeChannel({ name }, { timeoutMs: CALL_TIMEOUT_MS }),
        {
          notFound: `channel not found: ${name}`,
        },
      );
      cli.out.write(`channel ${name} removed\n`);
    });

  channels
    .command("test")
    .description("send a test message and show its first attempt")
    .argument("<name>", "channel name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const res = await withClient(
        cli.clientConfig(cmd),
        (client) => client.testChannel({ name }, { timeoutMs: TEST_TIMEOUT_MS }),
        {
          notFound: `channel not found: ${name}`,
        },
      );
      const d = res.delivery;
      const last = d?.attemptHistory.at(-1);
      cli.out.write(
        `${d?.id ?? "?"}: ${d?.state ?? "?"}${last ? ` (${last.result}${last.statusCode ? ` ${last.statusCode}` : ""}${last.error ? `: ${last.error}` : ""})` : ""}\n`,
      );
      if (d?.state !== "delivered") process.exitCode = 1;
    });

  channels
    .command("rotate")
    .description("new webhook signing key; the old one signs beside it for --window (both signatures sent)")
    .argument("<name>", "webhook channel name")
    .option("--window <hours>", "hours the old key keeps signing (default 24)", "24")
    .action(async (name: string, opts: { window: string }, cmd: Command) => {
      const hours = Number(opts.window);
      if (!Number.isFinite(hours) || hours < 0 || hours > 720) throw new UsageError("--window must be 0-720 hours");
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.rotateChannelKey({ name, windowSeconds: Math.round(hours * 3600) }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(
        `new signing key (shown once); the old key signs too until ${localDateTime(Number(res.previousValidUntilMs))}:\n${res.webhookKey}\n`,
      );
    });

  program
    .command("notifications")
    .description("each notification delivery and its attempts, newest first")
    .option("--channel <name>", "only this channel")
    .option("--limit <n>", `how many (1-${MAX_NOTIFICATIONS_LIMIT})`, "50")
    .option("--json", "print a JSON array")
    .action(async (opts: { channel?: string; limit: string; json?: boolean }, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_NOTIFICATIONS_LIMIT)
        throw new UsageError(`--limit must be 1-${MAX_NOTIFICATIONS_LIMIT}`);
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.listNotifications({ channel: opts.channel ?? "", limit }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(opts.json ? toJsonText(res.deliveries.map(deliveryJson)) : deliveriesText(res.deliveries));
    });
}

function channelJson(c: ChannelInfo) {
  return {
    name: c.name,
    type: c.type,
    target: c.target,
    createdAt: isoOrNull(c.createdAtMs),
    disabledAt: isoOrNull(c.disabledAtMs),
    disabledReason: c.disabledReason || null,
  };
}

function channelsTable(channels: ChannelInfo[]): string {
  if (channels.length === 0) return "no channels\n";
  const rows = channels.map((c) => [
    c.name,
    c.type,
    c.target,
    c.disabledAtMs ? `disabled: ${c.disabledReason}` : "enabled",
  ]);
  return renderTable(["NAME", "TYPE", "TARGET", "STATE"], rows);
}

function deliveryJson(d: Delivery) {
  return {
    id: d.id,
    channel: d.channel,
    event: d.event,
    runId: d.runId || null,
    subject: d.subject,
    state: d.state,
    createdAt: isoOrNull(d.createdAtMs),
    nextAttemptAt: isoOrNull(d.nextAttemptAtMs),
    finishedAt: isoOrNull(d.finishedAtMs),
    attempts: d.attemptHistory.map((a) => ({
      number: a.number,
      at: isoOrNull(a.atMs),
      result: a.result,
      statusCode: a.statusCode || null,
      error: a.error || null,
      durationMs: a.durationMs,
    })),
  };
}

function deliveriesText(deliveries: Delivery[]): string {
  if (deliveries.length === 0) return "no notifications\n";
  const lines: string[] = [];
  for (const d of deliveries) {
    const next =
      d.state === "pending" && d.nextAttemptAtMs ? `, next attempt ${localDateTime(Number(d.nextAttemptAtMs))}` : "";
    lines.push(
      `${d.id}  ${d.channel}  ${d.event}  ${d.state}${next}  ${localDateTime(Number(d.createdAtMs))}  ${d.subject}`,
    );
    for (const a of d.attemptHistory) {
      lines.push(
        `  #${a.number} ${localDateTime(Number(a.atMs))} ${a.result}${a.statusCode ? ` ${a.statusCode}` : ""} ${a.durationMs} ms${a.error ? `  ${a.error}` : ""}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
