// `dockyard secret set|list|rm`: the farm's secret store. A value is read from
// a file or stdin, never from an argument (shell history, `ps`), and is never printed.
import type { SecretInfo } from "@dockyard/proto";
import type { Command } from "commander";
import type { CliContext, Input, Output } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError, UsageError } from "../errors";
import { renderTable } from "../format/table";
import { isoOrNull, localDateTime } from "../format/time";
import { toJsonText } from "../json";
import { readBoundedFile } from "../pipeline-file";

/** The server refuses larger values; reading stops a little past it (room for a final newline). */
export const MAX_SECRET_BYTES = 64 * 1024;
const READ_LIMIT = MAX_SECRET_BYTES + 2;

/** One secret in `secret list --json` (no value: the server never sends one). */
export interface SecretJson {
  name: string;
  createdAt: string | null;
  updatedAt: string | null;
}

/** Registers `secret set`, `secret list` and `secret rm`. */
export function registerSecretCommands(program: Command, cli: CliContext): void {
  const secret = program
    .command("secret")
    .description(
      "manage secrets; a pipeline uses one as an env value: { secret: NAME } or { secret: NAME, file: true }",
    );

  secret
    .command("set")
    .description(
      "create or replace a secret; the value comes from --file or stdin (a prompt on a terminal), never an argument",
    )
    .argument("<name>", "secret name: 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit")
    .option("-f, --file <path>", "read the value from this file instead of stdin")
    .allowExcessArguments(true)
    .action(async (name: string, opts: { file?: string }, cmd: Command) => {
      if (cmd.args.length > 1) {
        throw new UsageError(
          "secret set takes no value argument (it would stay in your shell history): pipe it on stdin or use --file",
        );
      }
      const value = await readSecretValue({ name, file: opts.file, stdin: cli.stdin ?? process.stdin, err: cli.err });
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.setSecret({ name, value }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      value.fill(0);
      cli.out.write(`secret ${name} ${res.created ? "created" : "updated"}\n`);
    });

  secret
    .command("list")
    .description("list secrets by name with their times (values are never shown)")
    .option("--json", "print a JSON array of { name, createdAt, updatedAt }")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const res = await withClient(cli.clientConfig(cmd), (client) =>
        client.listSecrets({}, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      cli.out.write(opts.json ? toJsonText(res.secrets.map(secretJson)) : secretsTable(res.secrets, cli.colors.bold));
    });

  secret
    .command("rm")
    .description("delete a secret; runs that use it fail their stages with a clear reason")
    .argument("<name>", "secret name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withClient(
        cli.clientConfig(cmd),
        (client) => client.deleteSecret({ name }, { timeoutMs: CALL_TIMEOUT_MS }),
        {
          notFound: `secret not found: ${name}`,
        },
      );
      cli.out.write(`secret ${name} deleted\n`);
    });
}

/** JSON shape of a SecretInfo. */
export function secretJson(s: SecretInfo): SecretJson {
  return { name: s.name, createdAt: isoOrNull(s.createdAtMs), updatedAt: isoOrNull(s.updatedAtMs) };
}

/** The `secret list` table. */
export function secretsTable(secrets: SecretInfo[], bold: (s: string) => string = (s) => s): string {
  if (secrets.length === 0) return "no secrets\n";
  const rows = secrets.map((s) => [s.name, localDateTime(Number(s.createdAtMs)), localDateTime(Number(s.updatedAtMs))]);
  return renderTable(["NAME", "CREATED", "UPDATED"], rows, { header: bold });
}

/**
 * The value for `secret set`: the file's bytes, or stdin's (all of it from a pipe; one line,
 * not echoed, after a prompt on stderr from a terminal). Exactly one trailing line ending
 * (`\n` or `\r\n`) is removed. Refuses an empty value and one over MAX_SECRET_BYTES.
 */
export async function readSecretValue(opts: {
  name: string;
  file?: string;
  stdin: Input;
  err: Output;
}): Promise<Buffer> {
  let raw: Buffer;
  if (opts.file !== undefined) raw = await readFileBounded(opts.file);
  else if (opts.stdin.isTTY)
    raw = await promptLine(opts.stdin, opts.err, `value for secret ${opts.name} (not echoed): `);
  else raw = await readAllBounded(opts.stdin, "stdin");
  const value = stripOneLineEnding(raw);
  if (value.length === 0) throw new CliError(`refusing an empty value for secret ${opts.name}`);
  if (value.length > MAX_SECRET_BYTES) throw tooLarge(opts.file ?? "stdin");
  return value;
}

/** Removes one final `\r\n` or `\n`, nothing else (a value may end in other whitespace). */
export function stripOneLineEnding(raw: Buffer): Buffer {
  if (raw.length >= 2 && raw[raw.length - 2] === 0x0d && raw[raw.length - 1] === 0x0a) return raw.subarray(0, -2);
  if (raw.length >= 1 && raw[raw.length - 1] === 0x0a) return raw.subarray(0, -1);
  return raw;
}

/** The value's file, bounded like a pipeline file (a huge file is never read whole). */
function readFileBounded(path: string): Promise<Buffer> {
  return readBoundedFile(path, READ_LIMIT, () => tooLarge(path));
}

async function readAllBounded(stream: AsyncIterable<Buffer | string>, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    total += buf.length;
    if (total > READ_LIMIT) throw tooLarge(what);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** One line from a terminal in raw mode, so the value is not echoed; Ctrl-C aborts (exit 130). */
async function promptLine(tty: Input, err: Output, prompt: string): Promise<Buffer> {
  err.write(prompt);
  if (!tty.setRawMode) return firstLine(await readAllBounded(tty, "stdin"));
  tty.setRawMode(true);
  tty.resume();
  const bytes: number[] = [];
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const byte of chunk) {
          if (byte === 0x0d || byte === 0x0a || byte === 0x04) return finish(() => resolve(Buffer.from(bytes)));
          if (byte === 0x03) return finish(() => reject(new CliError("interrupted", 130)));
          if (byte === 0x7f || byte === 0x08) {
            // Backspace removes one character: its UTF-8 continuation bytes, then its lead byte.
            while (bytes.length > 0 && ((bytes.at(-1) ?? 0) & 0xc0) === 0x80) bytes.pop();
            bytes.pop();
            continue;
          }
          bytes.push(byte);
          if (bytes.length > READ_LIMIT) return finish(() => reject(tooLarge("stdin")));
        }
      };
      const finish = (settle: () => void) => {
        tty.off("data", onData);
        settle();
      };
      tty.on("data", onData);
    });
  } finally {
    tty.setRawMode(false);
    tty.pause();
    err.write("\n");
    bytes.fill(0);
  }
}

function firstLine(raw: Buffer): Buffer {
  const nl = raw.indexOf(0x0a);
  return nl < 0 ? raw : raw.subarray(0, nl + 1);
}

function tooLarge(what: string): CliError {
  return new CliError(`${what}: secret values are limited to ${MAX_SECRET_BYTES / 1024} KiB`);
}
