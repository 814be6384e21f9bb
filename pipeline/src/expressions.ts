// `${{ ... }}` expressions in stage fields and env values: an earlier stage's
// output (`${{ stages.build.outputs.image }}`) or a built-in variable
// (`${{ DOCKYARD_RUN_NUMBER }}`). The parser checks them (syntax, names, that a
// referenced stage is one the stage needs); the control plane substitutes
// built-ins when the run is created and outputs when the stage is assigned.

/** Variables every run defines; also set in the environment of every stage process. */
export const BUILTIN_VARIABLES = [
  'DOCKYARD_RUN_ID',
  'DOCKYARD_RUN_NUMBER',
  'DOCKYARD_PIPELINE',
  'DOCKYARD_COMMIT',
  'DOCKYARD_STAGE',
] as const;
export type BuiltinVariable = (typeof BUILTIN_VARIABLES)[number];

export type Reference = { kind: 'output'; stage: string; key: string } | { kind: 'builtin'; name: BuiltinVariable };

const EXPRESSION = /\$\{\{(.*?)\}\}/g;
const OUTPUT_REF = /^stages\.([a-z0-9][a-z0-9._-]{0,62})\.outputs\.([A-Za-z0-9_.-]{1,128})$/;

/** One `${{ }}` body: a reference, or why it is not one. */
export function parseReference(body: string): { ok: true; ref: Reference } | { ok: false; message: string } {
  const text = body.trim();
  const output = OUTPUT_REF.exec(text);
  if (output) return { ok: true, ref: { kind: 'output', stage: output[1]!, key: output[2]! } };
  if ((BUILTIN_VARIABLES as readonly string[]).includes(text))
    return { ok: true, ref: { kind: 'builtin', name: text as BuiltinVariable } };
  if (/^[A-Z_][A-Z0-9_]*$/.test(text)) {
    return {
      ok: false,
      message: `unknown variable '${text}' in \${{ ${text} }}: built-ins are ${BUILTIN_VARIABLES.join(', ')}`,
    };
  }
  return {
    ok: false,
    message: `invalid expression \${{ ${text.slice(0, 60)} }}: use \${{ stages.NAME.outputs.KEY }} or a built-in such as \${{ DOCKYARD_RUN_NUMBER }}`,
  };
}

/** Every expression in a string, with its parse result. An unclosed `${{` is reported too. */
export function referencesIn(text: string): ({ ok: true; ref: Reference } | { ok: false; message: string })[] {
  if (!text.includes('${{')) return [];
  const out = [...text.matchAll(EXPRESSION)].map((m) => parseReference(m[1] ?? ''));
  const rest = text.replace(EXPRESSION, '');
  if (rest.includes('${{')) out.push({ ok: false, message: "unclosed '${{': close it with '}}'" });
  return out;
}

/** What an expression is replaced with; `undefined` makes the substitution fail with `missing`. */
export type Resolver = (ref: Reference) => string | undefined;

/**
 * Replace the expressions in `text` that `resolve` knows; with `partial`, leave the others
 * in place (built-ins first, outputs later). Throws SubstitutionError naming the first
 * expression it could not resolve otherwise.
 */
export function substitute(text: string, resolve: Resolver, partial = false): string {
  if (!text.includes('${{')) return text;
  return text.replace(EXPRESSION, (whole, body: string) => {
    const parsed = parseReference(body);
    if (!parsed.ok) throw new SubstitutionError(parsed.message);
    const value = resolve(parsed.ref);
    if (value !== undefined) return value;
    if (partial) return whole;
    throw new SubstitutionError(`cannot resolve ${whole.trim()}`, parsed.ref);
  });
}

/** Applies {@link substitute} to every string inside a JSON value (keys untouched). */
export function substituteDeep<T>(value: T, resolve: Resolver, partial = false): T {
  if (typeof value === 'string') return substitute(value, resolve, partial) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => substituteDeep(v, resolve, partial)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteDeep(v, resolve, partial)])) as T;
  }
  return value;
}

/** Stage names referenced by `${{ stages.X.outputs.Y }}` anywhere in a JSON value. */
export function referencedStages(value: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const r of referencesIn(v)) if (r.ok && r.ref.kind === 'output') found.add(r.ref.stage);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return [...found];
}

export class SubstitutionError extends Error {
  constructor(
    message: string,
    readonly ref?: Reference,
  ) {
    super(message);
    this.name = 'SubstitutionError';
  }
}
