import { isPlainObject } from './ast.js';
import { findCycles, formatCycle } from './dag.js';
import { formatPath } from './format.js';
import type { Locator } from './issues.js';
import { PIPELINE_LIMITS } from './limits.js';
import { didYouMean } from './suggest.js';
import type { Problem } from './types.js';

/**
 * Cross-field rules zod cannot express per field: stage count, command vs commands, image vs
 * executor, and the needs graph (unknown names, self-needs, cycles). Runs on the raw value
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
    const has = (key: string): boolean => Object.hasOwn(stage, key);
    if (has('command') && has('commands')) {
      problem([...where, 'command'], true, "use either 'command' or 'commands', not both");
    } else if (!has('command') && !has('commands')) {
      problem(where, true, "missing required key 'commands' (or 'command')");
    }
    if (stage.executor === 'shell' && has('image')) {
      problem([...where, 'image'], true, "'image' is not allowed with executor: shell");
    } else if ((stage.executor === undefined || stage.executor === 'docker') && !has('image')) {
      problem(where, true, "missing required key 'image' (required unless executor: shell)");
    }
    const needs = stage.needs;
    if (!Array.isArray(needs)) continue;
    const valid: string[] = [];
    needs.forEach((need: unknown, i) => {
      if (typeof need !== 'string') return;
      if (need === name) problem([...where, 'needs', i], false, 'a stage cannot need itself');
      else if (!Object.hasOwn(stages, need)) {
        problem([...where, 'needs', i], false, `unknown stage '${need}'${didYouMean(need, names)}`);
      } else if (!valid.includes(need)) valid.push(need);
    });
    edges.set(name, valid);
  }
  for (const cycle of findCycles(names, (n) => edges.get(n) ?? [])) {
    const needs = stages[cycle.from];
    const index = isPlainObject(needs) && Array.isArray(needs.needs) ? needs.needs.indexOf(cycle.to) : -1;
    problem(['stages', cycle.from, 'needs', Math.max(0, index)], false, `dependency cycle: ${formatCycle(cycle.path)}`);
  }
  return out;
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
