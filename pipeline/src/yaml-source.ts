// Reading a YAML file that must hold one mapping, with the hostile-input bounds every Dockyard file shares (the
// pipeline file, the service file): size before decoding, nesting and key floods before yaml builds a tree,
// duplicate keys, alias expansion. What the mapping means is the caller's business.
import { LineCounter, isMap, isSeq, parseDocument, type Document } from 'yaml';
import { findDuplicateKeys, findSizeOverflow, firstAliasOffset, isPlainObject, locate, pathAt } from './ast.js';
import { formatPath } from './format.js';
import type { Locator } from './issues.js';
import { decodeInput, scanStructure } from './prescan.js';
import { quote } from './schema-parts.js';
import type { Problem } from './types.js';

/** The bounds a file is read within (PIPELINE_LIMITS is one). */
export interface YamlLimits {
  maxBytes: number;
  maxDepth: number;
  maxAliases: number;
  maxKeys: number;
  maxItems: number;
}

/** The file's mapping, its document (for key order and scalar sources) and a locator into it; or why not. */
export type YamlMappingResult =
  { ok: true; js: Record<string, unknown>; doc: Document.Parsed; at: Locator } | { ok: false; problems: Problem[] };

export const fileProblem = (message: string, line = 1, column = 1): Problem => ({ path: '', line, column, message });

/**
 * Decodes and parses `input` as one YAML document whose top level is a mapping, refusing hostile input in bounded
 * time and memory. `emptyMessage` is the problem of an empty file (it names the keys the caller expects).
 */
export function readYamlMapping(
  input: string | Uint8Array,
  limits: YamlLimits,
  emptyMessage: string,
): YamlMappingResult {
  const fail = (problems: Problem[]): YamlMappingResult => ({ ok: false, problems });
  const decoded = decodeInput(input, limits.maxBytes);
  if (!decoded.ok) return fail([decoded.problem]);
  const text = decoded.text;
  const excess = scanStructure(text, limits);
  if (excess?.kind === 'depth') {
    return fail([fileProblem(`nesting is deeper than ${limits.maxDepth} levels`, excess.line, excess.column)]);
  }
  if (excess) return fail([fileProblem(tooMany(excess.kind, limits), excess.line, excess.column)]);

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    // yaml's own uniqueKeys check is quadratic per mapping; findDuplicateKeys is linear.
    uniqueKeys: false,
    prettyErrors: false,
    keepSourceTokens: false,
  });
  const pos = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const yamlProblems = [...doc.errors, ...doc.warnings].map((e): Problem => ({
    path: formatPath(pathAt(doc, e.pos[0])),
    ...pos(e.pos[0]),
    message: yamlMessage(e.message),
  }));
  for (const dup of findDuplicateKeys(doc)) {
    yamlProblems.push({ path: formatPath(dup.path), ...pos(dup.offset), message: `duplicate key ${quote(dup.key)}` });
  }
  if (yamlProblems.length > 0) return fail(yamlProblems);

  const root = doc.contents;
  if (root === null) return fail([fileProblem(emptyMessage)]);
  if (!isMap(root)) {
    const kind = isSeq(root) ? 'a sequence' : 'a scalar';
    return fail([{ path: '', ...pos(root.range[0]), message: `top level must be a mapping, got ${kind}` }]);
  }
  const overflow = findSizeOverflow(doc, limits);
  if (overflow) return fail([{ path: '', ...pos(overflow.offset), message: tooMany(overflow.kind, limits) }]);

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: limits.maxAliases });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    const message = `aliases expand too much (limit ${limits.maxAliases}); refusing a possible alias bomb`;
    return fail([{ path: '', ...pos(firstAliasOffset(doc)), message }]);
  }
  if (!isPlainObject(js)) return fail([fileProblem('top level must be a mapping')]);
  return { ok: true, js, doc, at: (path, atKey) => pos(locate(doc, path, atKey)) };
}

/** Runs a parse that must not throw: a bug or an unforeseen yaml failure (stack overflow) becomes a problem. */
export function neverThrows<T>(parse: () => T, fail: (problems: Problem[]) => T): T {
  try {
    return parse();
  } catch (err) {
    const reason = err instanceof RangeError ? 'the file is too complex to parse' : 'internal error while parsing';
    return fail([fileProblem(`${reason} (${err instanceof Error ? err.message : String(err)})`)]);
  }
}

/** Sorts by position, drops exact duplicates, caps the count at `max` with a final summary problem. */
export function finishProblems<P extends Problem>(problems: P[], max: number): P[] {
  const seen = new Set<string>();
  const unique = problems
    .filter((p) => {
      const key = `${p.line}:${p.column}:${p.path}:${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
  const next = unique[max];
  if (next === undefined) return unique;
  return [...unique.slice(0, max), { ...next, path: '', message: `${unique.length - max} more problems not shown` }];
}

function tooMany(kind: 'keys' | 'items', limits: YamlLimits): string {
  return kind === 'keys'
    ? `more than ${limits.maxKeys} keys in the file`
    : `more than ${limits.maxItems} sequence items in the file`;
}

function yamlMessage(message: string): string {
  if (message.startsWith('Source contains multiple documents')) return 'only one YAML document is allowed (remove ---)';
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+.*$/, '');
}
