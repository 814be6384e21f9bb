import { isPlainObject, keepScalarSource, keyOrder } from './ast.js';
import { checkSemantics } from './checks.js';
import { errorMap, issuesToProblems } from './issues.js';
import { PIPELINE_LIMITS } from './limits.js';
import { NAME_PATTERN, pipelineSchema, quote, type EnvValue, type PipelineInput } from './schema.js';
import type { ParseResult, PipelineSpec, Problem, RegistrySpec, SecretRef, SourceSpec, StageDef } from './types.js';
import { finishProblems, neverThrows, readYamlMapping } from './yaml-source.js';
import { KINDS, kindFor, kindOf, type KindSpec, type StageType, type PipelineStageType } from './kinds/index.js';

const fail = (problems: Problem[]): ParseResult => ({
  ok: false,
  problems: finishProblems(problems, PIPELINE_LIMITS.maxProblems),
});

/** What a caller passes to {@link parsePipeline}. */
export interface ParseOptions {
  /**
   * The pipeline's name when the file has no `name:` (callers pass the file's directory
   * name, sanitised to the name pattern). Without it, a missing name is a problem.
   */
  defaultName?: string;
}

/**
 * Parses and validates a `dockyard.yml` (v1). Never throws: returns either the normalised
 * pipeline (defaults applied, stage env merged over pipeline env, stages in file order,
 * `name` defaulted from `options.defaultName`) or every problem found, each with a 1-based
 * line and column, sorted by position.
 *
 * Hostile input is refused in bounded time and memory: size (> 1 MiB) before decoding,
 * invalid UTF-8, nesting deeper than 64 before yaml builds a tree, too many keys, and alias
 * expansion beyond {@link PIPELINE_LIMITS}.maxAliases. Pure and safe to call concurrently.
 */
export function parsePipeline(input: string | Uint8Array, options: ParseOptions = {}): ParseResult {
  return neverThrows(() => parseUnsafe(input, options), fail);
}

function parseUnsafe(input: string | Uint8Array, options: ParseOptions): ParseResult {
  const read = readYamlMapping(input, PIPELINE_LIMITS, "file is empty: expected a mapping with 'name' and 'stages'");
  if (!read.ok) return fail(read.problems);
  const { js, doc, at } = read;
  const stageOrder = keyOrder(doc, ['stages']);
  keepScalarSource(doc, js, ['env']);
  for (const name of stageOrder) {
    keepScalarSource(doc, js, ['stages', name, 'env']);
    keepScalarSource(doc, js, ['stages', name, 'agent']);
    keepScalarSource(doc, js, ['stages', name, 'args']);
  }
  const parsed = pipelineSchema.safeParse(js, { reportInput: true, error: errorMap });
  const name = js.name === undefined ? defaultedName(options.defaultName) : { ok: true as const, name: undefined };
  const problems = [
    ...(name.ok ? [] : [{ path: '', ...at([], true), message: name.message }]),
    ...(parsed.success ? [] : issuesToProblems(parsed.error.issues, at, [], (name) => stageTypeOf(js, name))),
    ...checkSemantics(js, stageOrder, at),
  ];
  if (problems.length > 0 || !parsed.success) return fail(problems);
  return { ok: true, pipeline: build(parsed.data, stageOrder, name.ok ? name.name : undefined) };
}

/** The type of the raw stage `name` (for key hints). */
function stageTypeOf(js: Record<string, unknown>, name: string): PipelineStageType | undefined {
  const stages = js.stages;
  const stage = isPlainObject(stages) ? stages[name] : undefined;
  return isPlainObject(stage) ? kindOf(stage) : undefined;
}

/** The name of a file without `name:`: the caller's default, when it is a valid name. */
function defaultedName(defaultName: string | undefined): { ok: true; name: string } | { ok: false; message: string } {
  if (!defaultName) return { ok: false, message: "missing 'name' (and no directory name to default to)" };
  if (!NAME_PATTERN.test(defaultName)) {
    return {
      ok: false,
      message: `missing 'name', and the default ${quote(defaultName)} is not a valid name: use 1-63 of a-z 0-9 . _ - starting with a letter or digit`,
    };
  }
  return { ok: true, name: defaultName };
}

/** Splits a merged env into plain values and secret references (both in key order). */
function splitEnv(merged: Record<string, EnvValue>): { env: Record<string, string>; secrets: SecretRef[] } {
  const env: Record<string, string> = {};
  const secrets: SecretRef[] = [];
  for (const [name, value] of Object.entries(merged)) {
    if (typeof value === 'string') env[name] = value;
    else secrets.push({ env: name, secret: value.secret, asFile: value.asFile });
  }
  return { env, secrets };
}

function build(input: PipelineInput, order: readonly string[], defaultName: string | undefined): PipelineSpec {
  const pipelineEnv = { ...input.env };
  const { env, secrets } = splitEnv(pipelineEnv);
  const names = [...order.filter((n) => Object.hasOwn(input.stages, n))];
  for (const n of Object.keys(input.stages)) if (!names.includes(n)) names.push(n);
  const stages = names.map((name): StageDef => {
    const s = input.stages[name];
    if (!s) throw new Error(`stage '${name}' vanished`);
    const type: StageType = s.type ?? 'command';
    // A stage entry of either kind replaces the pipeline entry of the same name; only
    // stages that run a process (command, test) see the pipeline env.
    // (A ui-test's `env` is an environment's name, not variables: it has no process.)
    const merged =
      'env' in KINDS[type].shape && type !== 'ui-test'
        ? splitEnv({ ...pipelineEnv, ...('env' in s && typeof s.env === 'object' ? s.env : undefined) })
        : { env: {}, secrets: [] };
    const own = kindFor(type).ownSecrets;
    const ownSecrets: SecretRef[] = own ? own.refs(s) : [];
    return {
      name,
      type,
      needs: [...new Set((s.needs ?? []).map((n) => (typeof n === 'string' ? n : n.stage)))],
      continueIfSkipped: [
        ...new Set(
          (s.needs ?? []).flatMap((n) => (typeof n !== 'string' && n.if_skipped === 'continue' ? [n.stage] : [])),
        ),
      ],
      env: merged.env,
      secrets: [...merged.secrets, ...ownSecrets],
      // A kind that owns `timeout:` (approval: its deadline) reads it itself.
      timeoutMs: kindFor(type).ownsTimeout ? null : ((s as { timeout?: number }).timeout ?? null),
      retry: s.retry ?? null,
      agent: { ...s.agent },
      // Each kind's module turns its validated keys into its spec (the union is by `type`).
      spec: withDefaults((KINDS[type].build as (x: typeof s) => KindSpec)(s), name),
    };
  });
  const name = input.name ?? defaultName;
  if (name === undefined) throw new Error('pipeline name vanished');
  const source: SourceSpec = input.source
    ? { kind: 'git', url: input.source.git, ref: input.source.ref ?? null }
    : { kind: 'upload' };
  const registry: RegistrySpec | null = input.registry
    ? {
        address: input.registry.address,
        username: input.registry.username ?? null,
        passwordSecret: input.registry.password ?? null,
      }
    : null;
  const notify = (input.notify ?? []).map((r) => ({
    on: [...new Set(r.on)],
    channels: [...new Set(r.channels)],
    ...(r.subject !== undefined ? { subject: r.subject } : {}),
    ...(r.body !== undefined ? { body: r.body } : {}),
  }));
  return { version: 1, name, env, secrets, source, registry, notify, stages };
}

/** Defaults that need the stage's name: a ui-test's journey is named after its stage. */
function withDefaults(spec: KindSpec, stageName: string): KindSpec {
  return spec.type === 'ui-test' && spec.journey === '' ? { ...spec, journey: stageName } : spec;
}
