import { isPlainObject } from './ast.js';
import { findCycles, formatCycle } from './dag.js';
import { formatPath } from './format.js';
import type { Locator } from './issues.js';
import { PIPELINE_LIMITS } from './limits.js';
import { needName, needNamePath } from './needs.js';
import { didYouMean } from './suggest.js';
import type { Problem } from './types.js';
import { KINDS, STAGE_TYPES, kindFor, kindOf, type StageType } from './kinds/index.js';
import { checkExpressions } from './expression-checks.js';
import { referencesIn } from './expressions.js';

/**
 * Cross-field rules zod cannot express per field: stage count, each kind's own checks
 * (kinds/), `${{ }}` expressions, and the needs graph (unknown names, self-needs, cycles). Runs on the raw value
 * even when zod found problems elsewhere, so every problem is reported in one pass; it skips
 * anything of the wrong type (zod reports that).
 */
export function checkSemantics(js: Record<string, unknown>, stageOrder: readonly string[], at: Locator): Problem[] {
  const out: Problem[] = [];
  const problem = (path: PropertyKey[], atKey: boolean, message: string): void => {
    out.push({ path: formatPath(path), ...at(path, atKey), message });
  };
  // zod's records silently drop a `__proto__` key (it cannot be a plain property), so refuse it.
  for (const path of protoKeys(js)) problem(path, true, "key '__proto__' is not allowed");
  checkPipelineEnv(js.env, problem);
  const stages = js.stages;
  if (!isPlainObject(stages)) return out;
  const names = stageOrder.filter((n) => n !== '__proto__' && Object.hasOwn(stages, n));
  if (names.length === 0) problem(['stages'], false, 'must define at least one stage');
  if (names.length > PIPELINE_LIMITS.maxStages) {
    problem(['stages'], false, `has ${names.length} stages; the limit is ${PIPELINE_LIMITS.maxStages}`);
  }
  const edges = new Map<string, string[]>();
  for (const name of names) {
    const stage = stages[name];
    if (!isPlainObject(stage)) continue;
    const where = ['stages', name];
    const kind = kindOf(stage);
    if (kind) KINDS[kind].check?.(stage, (path, atKey, message) => problem([...where, ...path], atKey, message));
    const needs = stage.needs;
    if (!Array.isArray(needs)) continue;
    const valid: string[] = [];
    const written = needs.map(needName);
    needs.forEach((entry: unknown, i) => {
      const need = written[i];
      if (need === undefined) return;
      const at = [...where, 'needs', i, ...needNamePath(entry)];
      if (need === name) problem(at, false, 'a stage cannot need itself');
      else if (!Object.hasOwn(stages, need)) {
        problem(at, false, `unknown stage '${need}'${didYouMean(need, names)}`);
      } else {
        if (!valid.includes(need)) valid.push(need);
        if (typeof entry === 'string') return;
        // A mapping says how to treat that stage: it must be the only entry naming it.
        if (written.indexOf(need) !== i || written.lastIndexOf(need) !== i) {
          problem(at, false, `'${need}' is listed more than once in needs: list it once, as { stage: ${need}, ... }`);
        }
        checkIfSkipped(entry, need, stages[need], [...where, 'needs', i], problem);
      }
    });
    edges.set(name, valid);
  }
  const ancestorsOf = (name: string): Set<string> => {
    const seen = new Set<string>();
    const stack = [...(edges.get(name) ?? [])];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(edges.get(n) ?? []));
    }
    return seen;
  };
  const outputsOf = (name: string) => {
    const target = stages[name];
    const type = isPlainObject(target) ? kindOf(target) : undefined;
    return type && { type, outputs: KINDS[type].outputs };
  };
  for (const name of names) {
    const stage = stages[name];
    if (!isPlainObject(stage)) continue;
    checkExpressions(stage, ['stages', name], names, problem, ancestorsOf, outputsOf);
    const type = kindOf(stage);
    if (type)
      KINDS[type].checkWithOthers?.(stage, stages, (path, atKey, message) =>
        problem(['stages', name, ...path], atKey, message),
      );
  }
  for (const cycle of findCycles(names, (n) => edges.get(n) ?? [])) {
    const needs = stages[cycle.from];
    const index =
      isPlainObject(needs) && Array.isArray(needs.needs)
        ? needs.needs.findIndex((n: unknown) => needName(n) === cycle.to)
        : -1;
    problem(['stages', cycle.from, 'needs', Math.max(0, index)], false, `dependency cycle: ${formatCycle(cycle.path)}`);
  }
  return out;
}

/**
 * `if_skipped: continue` only means something for a stage that can skip itself (an approval
 * with `on_timeout: skip`): elsewhere it would never apply, and saying so catches a wrong name.
 */
function checkIfSkipped(
  entry: unknown,
  need: string,
  target: unknown,
  at: PropertyKey[],
  problem: (path: PropertyKey[], atKey: boolean, message: string) => void,
): void {
  if (!isPlainObject(entry) || entry.if_skipped !== 'continue' || !isPlainObject(target)) return;
  const kind = kindOf(target);
  if (!kind) return;
  const skips = (k: StageType) => kindFor(k).skipsItself;
  if (skips(kind)?.when(target)) return;
  const who = STAGE_TYPES.flatMap((t) => skips(t)?.how ?? []);
  problem(
    [...at, 'if_skipped'],
    false,
    `if_skipped: continue never applies: stage '${need}' never skips itself${who.length > 0 ? ` (only ${who.join(' or ')} does)` : ''}`,
  );
}

/**
 * The pipeline env is merged into every command and test stage, so it can hold built-ins
 * but no stage's outputs (which stage would have to need it?).
 */
function checkPipelineEnv(env: unknown, problem: (path: PropertyKey[], atKey: boolean, message: string) => void): void {
  if (!isPlainObject(env)) return;
  for (const [key, value] of Object.entries(env)) {
    if (typeof value !== 'string') continue;
    for (const r of referencesIn(value)) {
      if (!r.ok) problem(['env', key], false, r.message);
      else if (r.ref.kind === 'output') {
        problem(
          ['env', key],
          false,
          `\${{ stages.${r.ref.stage}.outputs.${r.ref.key} }} cannot be used in the pipeline env: put it in the env of a stage that needs '${r.ref.stage}'`,
        );
      }
    }
  }
}

/** Paths of every own `__proto__` key, at any depth (iterative; the tree is already size-bounded). */
function protoKeys(root: unknown): PropertyKey[][] {
  const found: PropertyKey[][] = [];
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() ?? { value: null, path: [] };
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }));
    else if (isPlainObject(value)) {
      if (Object.hasOwn(value, '__proto__')) found.push([...path, '__proto__']);
      for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] });
    }
  }
  return found;
}
