// A service's env file, in dotenv format. dotenv's own `parse` reads each entry (quotes, escapes, comments, multi-line
// quoted values), but it reports nothing: it skips a line it cannot read and takes any name it can. So this module
// finds the entries and their lines itself, hands dotenv one entry at a time, and reports what dotenv would skip.
import { parse as dotenvParse } from 'dotenv';
import { decodeInput } from '../prescan.js';
import { ENV_NAME_PATTERN, quote } from '../schema-parts.js';
import { finishProblems } from '../yaml-source.js';
import { envValueMeaning, setEnv, type ServiceEnv } from './service-env.js';
import type { ServiceProblem } from './service-problems.js';

/** Bounds of an env file, checked before anything else is read. */
export const ENV_FILE_LIMITS = Object.freeze({
  /** Largest accepted file, in bytes (64 KiB). */
  maxBytes: 64 * 1024,
  /** Most entries. */
  maxEntries: 1000,
  /** Most problems returned; the rest are summarised in one final problem. */
  maxProblems: 100,
});

export type EnvFileResult = ({ ok: true } & ServiceEnv) | { ok: false; problems: ServiceProblem[] };

// `[export ]NAME=` or dotenv's other spelling `NAME: `; NAME is anything up to the separator, checked afterwards so
// that a bad name is reported as one rather than as an unreadable line.
const ENTRY_START = /^(\s*(?:export\s+)?)([^\s=:#]+)\s*(?:=|:(?=\s|$))(\s*)(.*)$/;
const QUOTES = new Set(["'", '"', '`']);

/**
 * Parses an env file (dotenv format: `NAME=value`, `#` comments, quoted values, `export ` prefixes). A value written
 * exactly `${{ secrets.NAME }}` is a secret reference; any other `${{` is refused; values are otherwise literal.
 * Never throws; every problem names the file (`options.file`, default `.env`) and its line and column.
 */
export function parseEnvFile(text: string | Uint8Array, options: { file?: string } = {}): EnvFileResult {
  const file = options.file ?? '.env';
  const decoded = decodeInput(text, ENV_FILE_LIMITS.maxBytes);
  if (!decoded.ok) return { ok: false, problems: [{ ...decoded.problem, file }] };
  const lines = decoded.text.replace(/\r\n?/g, '\n').split('\n');
  const out: ServiceEnv = { env: {}, secrets: [] };
  const problems: ServiceProblem[] = [];
  const problem = (line: number, column: number, message: string, path = ''): void => {
    problems.push({ file, path, line, column, message });
  };
  const firstLine = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const lineNo = i + 1;
    const entry = ENTRY_START.exec(line);
    if (!entry) {
      problem(lineNo, line.length - line.trimStart().length + 1, `expected NAME=VALUE, got ${quote(trimmed)}`);
      continue;
    }
    const [, lead = '', name = '', , rest = ''] = entry;
    const valueColumn = line.length - rest.length + 1;
    // A quoted value may run over lines: the entry ends on the line with its closing quote.
    const last = QUOTES.has(rest[0] ?? '') ? closingLine(lines, i, rest) : i;
    if (last < 0) {
      problem(lineNo, valueColumn, `unterminated ${rest[0]} quote: the value of ${quote(name)} never ends`, name);
      break;
    }
    i = last;
    if (firstLine.size >= ENV_FILE_LIMITS.maxEntries && !firstLine.has(name)) {
      problem(lineNo, lead.length + 1, `more than ${ENV_FILE_LIMITS.maxEntries} entries in the env file`);
      break;
    }
    if (!ENV_NAME_PATTERN.test(name)) {
      problem(lineNo, lead.length + 1, `invalid variable name ${quote(name)}: must match ^[A-Za-z_][A-Za-z0-9_]*$`);
      continue;
    }
    const earlier = firstLine.get(name);
    if (earlier !== undefined) {
      problem(lineNo, lead.length + 1, `${quote(name)} is set twice (first on line ${earlier})`);
      continue;
    }
    firstLine.set(name, lineNo);
    const value = valueOf(name, lines.slice(lineNo - 1, last + 1).join('\n'));
    if (value === undefined) {
      problem(lineNo, valueColumn, `cannot read the value of ${quote(name)}`, name);
      continue;
    }
    const meaning = envValueMeaning(value);
    if (meaning.kind === 'refused') problem(lineNo, valueColumn, meaning.message, name);
    else setEnv(out, name, meaning);
  }
  if (problems.length > 0) return { ok: false, problems: finishProblems(problems, ENV_FILE_LIMITS.maxProblems) };
  return { ok: true, ...out };
}

/** dotenv's value of the one entry in `entry` (undefined when dotenv does not read it as that entry). */
function valueOf(name: string, entry: string): string | undefined {
  const parsed = dotenvParse(entry);
  return Object.hasOwn(parsed, name) ? parsed[name] : undefined;
}

/**
 * The index of the line holding the quote that closes a value starting with one (dotenv skips an escaped quote), or
 * -1 when none does.
 */
function closingLine(lines: readonly string[], from: number, rest: string): number {
  const quoteChar = rest[0] ?? '';
  let text = rest.slice(1);
  for (let i = from; i < lines.length; i++) {
    for (let k = 0; k < text.length; k++) {
      if (text[k] === '\\' && text[k + 1] === quoteChar) k++;
      else if (text[k] === quoteChar) return i;
    }
    text = lines[i + 1] ?? '';
  }
  return -1;
}
