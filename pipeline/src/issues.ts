import type { z } from 'zod';
import { isPlainObject, type ValuePath } from './ast.js';
import { formatPath } from './format.js';
import { KNOWN_KEYS, quote, typeName } from './schema.js';
import { NEED_KEYS } from './needs.js';
import { didYouMean } from './suggest.js';
import type { Problem } from './types.js';
import { STAGE_TYPES, stageKeys, type PipelineStageType as StageType } from './kinds/index.js';

type Issue = z.core.$ZodIssue;

/** Finds the 1-based line/column of a value (or, with `atKey`, of its key). */
export type Locator = (path: ValuePath, atKey: boolean) => { line: number; column: number };

const TYPE_NAMES: Record<string, string> = { object: 'mapping', array: 'sequence', record: 'mapping', int: 'integer' };
const friendly = (t: string): string => TYPE_NAMES[t] ?? t;

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (typeof value === 'string') return `string ${quote(value)}`;
  return typeName(value);
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1) ?? ''}`;
}

/**
 * Per-parse zod error map: plain-language messages for the generic issue kinds. Messages set
 * on the schema itself (names, durations) take precedence over this map.
 */
export const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.expected === 'int') return `expected an integer, got ${describe(iss.input)}`;
      return `expected ${friendly(iss.expected)}, got ${describe(iss.input)}`;
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'array') return `must have at least ${min} item${min === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return 'must not be empty';
      return `must be ${iss.inclusive ? '>=' : '>'} ${min}, got ${String(iss.input)}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'array') return `must have at most ${max} item${max === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return `must be at most ${max} characters`;
      return `must be ${iss.inclusive ? '<=' : '<'} ${max}, got ${String(iss.input)}`;
    }
    case 'invalid_value':
      if (iss.values.length === 1) return `must be ${JSON.stringify(iss.values[0])}, got ${describe(iss.input)}`;
      return `expected one of ${iss.values.map((v) => String(v)).join(', ')}, got ${describe(iss.input)}`;
    case 'invalid_format':
      return `${describe(iss.input)} does not match ${iss.format === 'regex' ? String(iss.pattern) : iss.format}`;
    default:
      return undefined;
  }
};

function knownKeysFor(path: ValuePath, stageTypeAt?: (stage: string) => StageType | undefined): readonly string[] {
  if (path.length === 0) return KNOWN_KEYS.root;
  if (path.length === 2 && path[0] === 'stages') return stageKeys(stageTypeAt?.(String(path[1])) ?? 'command');
  if (path.length === 1 && (path[0] === 'source' || path[0] === 'registry')) return KNOWN_KEYS[path[0]];
  if (path.length === 3 && path[0] === 'stages' && path[2] === 'retry') return KNOWN_KEYS.retry;
  if (path.length === 4 && path[0] === 'stages' && path[2] === 'needs') return NEED_KEYS;
  if (path.length === 2 && path[0] === 'notify') return KNOWN_KEYS.notify;
  if ((path.length === 2 && path[0] === 'env') || (path.length === 4 && path[0] === 'stages' && path[2] === 'env'))
    return KNOWN_KEYS.secret;
  return [];
}

// `expected: 'int'` means the type (number) matched but the value is fractional: a real mismatch only otherwise.
const isRootTypeMismatch = (branch: readonly Issue[]): boolean =>
  branch.length === 1 &&
  branch[0]?.code === 'invalid_type' &&
  branch[0].path.length === 0 &&
  branch[0].expected !== 'int';

/** The keys a mapping at `path` may have (for a did-you-mean on an unknown key); [] when unknown. */
export type KnownKeys = (path: ValuePath) => readonly string[];

/**
 * Turns zod issues into located problems: one problem per unknown key (pointing at the key,
 * with a typo hint), missing keys at the enclosing key, union failures reduced to the branch
 * whose type matched. `prefix` is the path of the value the issues are relative to.
 */
export function issuesToProblems(
  issues: readonly Issue[],
  at: Locator,
  prefix: ValuePath = [],
  stageTypeAt?: (stage: string) => StageType | undefined,
): Problem[] {
  return locatedProblems(issues, at, (path) => knownKeysFor(path, stageTypeAt), prefix);
}

/** {@link issuesToProblems} for any file: `knownKeys` gives the typo hints of unknown keys. */
export function locatedProblems(
  issues: readonly Issue[],
  at: Locator,
  knownKeys: KnownKeys,
  prefix: ValuePath = [],
): Problem[] {
  const out: Problem[] = [];
  for (const iss of issues) {
    const path = [...prefix, ...iss.path];
    if (iss.code === 'unrecognized_keys') {
      for (const key of iss.keys) {
        const hint = didYouMean(key, knownKeys(path));
        out.push({ path: formatPath(path), ...at([...path, key], true), message: `unknown key ${quote(key)}${hint}` });
      }
    } else if (iss.code === 'invalid_key') {
      out.push({ path: formatPath(path), ...at(path, true), message: iss.issues[0]?.message ?? 'invalid key' });
    } else if (iss.code === 'invalid_union' && 'discriminator' in iss && iss.discriminator === 'type') {
      const given = String(isPlainObject(iss.input) ? iss.input.type : iss.input);
      out.push({
        path: formatPath(path),
        ...at(path, false),
        message: `unknown stage type ${quote(given)}${didYouMean(given, STAGE_TYPES)}; types are ${STAGE_TYPES.join(', ')}`,
      });
    } else if (iss.code === 'invalid_union') {
      const matching = iss.errors.filter((b) => !isRootTypeMismatch(b));
      if (matching.length === 1 && matching[0]) {
        out.push(...locatedProblems(matching[0], at, knownKeys, path));
      } else {
        const expected = [
          ...new Set(iss.errors.flatMap((b) => (b[0]?.code === 'invalid_type' ? [friendly(b[0].expected)] : []))),
        ];
        const message = expected.length > 0 ? `expected ${orList(expected)}, got ${describe(iss.input)}` : iss.message;
        out.push({ path: formatPath(path), ...at(path, false), message });
      }
    } else if (iss.code === 'invalid_type' && iss.input === undefined && path.length > 0) {
      const parent = path.slice(0, -1);
      out.push({
        path: formatPath(parent),
        ...at(parent, true),
        message: `missing required key ${quote(path.at(-1))}`,
      });
    } else {
      out.push({ path: formatPath(path), ...at(path, false), message: iss.message });
    }
  }
  return out;
}
