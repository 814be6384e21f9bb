// Reading pipeline files and printing validation problems.
import { open } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { CliError } from "./errors";

/** Pipeline files larger than this are refused before being read. */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

/**
 * Reads `path` as bytes (the server and the parser check UTF-8), refusing
 * files over MAX_PIPELINE_BYTES. The size is
 * checked with fstat first and again while reading (for pipes and files that
 * grow), so a huge file is never read whole. Throws CliError with a clear message.
 */
export async function readPipelineFile(path: string, limit = MAX_PIPELINE_BYTES): Promise<Uint8Array> {
  return readBoundedFile(path, limit, (size) => tooLarge(path, size, limit));
}

/**
 * Reads a file of at most `limit` bytes (checked with fstat, then while reading), or
 * throws `tooBig(size)`; other failures are CliErrors naming the file.
 */
export async function readBoundedFile(
  path: string,
  limit: number,
  tooBig: (size: number) => CliError,
): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${fsReason(err)}`, 1, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new CliError(`cannot read ${path}: it is a directory`);
    if (stat.size > limit) throw tooBig(stat.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit) throw tooBig(total);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${path}: ${fsReason(err)}`, 1, { cause: err });
  } finally {
    await handle.close();
  }
}

function tooLarge(path: string, size: number, limit: number): CliError {
  return new CliError(
    `${path} is too large (at least ${formatBytes(size)}); pipeline files are limited to ${formatBytes(limit)}`,
  );
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Number((n / (1024 * 1024)).toFixed(1))} MiB`;
  return n >= 1024 ? `${Math.floor(n / 1024)} KiB` : `${n} bytes`;
}

function fsReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "it is a directory";
  return err instanceof Error ? err.message : String(err);
}

/**
 * The name of a pipeline whose file has no `name:`: its directory's name, lowercased, with
 * every run of other characters than a-z 0-9 . _ - turned into one '-', trimmed to start
 * with a letter or digit and to 63 characters (the pipeline name pattern). Null when
 * nothing is left (the root directory, a name of symbols only).
 */
export function defaultPipelineName(file: string): string | null {
  const dir = basename(dirname(resolve(file)));
  const name = dir
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return name === "" ? null : name;
}

/** The server's INVALID_ARGUMENT details, one problem per line, printed verbatim. */
export function serverProblemsText(details: string): string {
  return details.endsWith("\n") || details === "" ? details : `${details}\n`;
}

/** formatProblems output (text or lines) normalised to lines ending in "\n". */
export function problemsText(formatted: string | string[]): string {
  const text = Array.isArray(formatted) ? formatted.join("\n") : formatted;
  return serverProblemsText(text);
}
