import { InvalidStageGraphError } from './errors.js';
import type { StageDef } from './types.js';

/** One dependency cycle, found at the `needs` edge `from -> to` that closes it. */
export interface Cycle {
  /** Path that starts and ends at the same stage, following needs: `['a', 'b', 'a']` (a needs b, b needs a). */
  path: string[];
  from: string;
  to: string;
}

/**
 * Finds cycles by iterative DFS (no recursion, so long chains cannot blow the stack), visiting
 * stages and their needs in file order; reports one cycle per back edge. `needsOf` must return
 * only names present in `order`.
 */
export function findCycles(order: readonly string[], needsOf: (name: string) => readonly string[]): Cycle[] {
  const cycles: Cycle[] = [];
  const state = new Map<string, 'active' | 'done'>();
  for (const root of order) {
    if (state.has(root)) continue;
    state.set(root, 'active');
    const stack: { name: string; next: number }[] = [{ name: root, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (!top) break;
      const deps = needsOf(top.name);
      if (top.next >= deps.length) {
        state.set(top.name, 'done');
        stack.pop();
        continue;
      }
      const dep = deps[top.next++] ?? '';
      const seen = state.get(dep);
      if (seen === undefined) {
        state.set(dep, 'active');
        stack.push({ name: dep, next: 0 });
      } else if (seen === 'active') {
        const start = stack.findIndex((f) => f.name === dep);
        cycles.push({ path: [...stack.slice(start).map((f) => f.name), dep], from: top.name, to: dep });
      }
    }
  }
  return cycles;
}

/** Renders a cycle path as `a -> b -> a`. */
export function formatCycle(path: readonly string[]): string {
  return path.join(' -> ');
}

/**
 * Stage names in an order where every stage comes after all stages it needs; ties keep file
 * order, so the result is deterministic. Pure and synchronous.
 * @throws InvalidStageGraphError on a need naming an unknown stage or on a cycle (with its path).
 */
export function topologicalOrder(stages: StageDef[]): string[] {
  const index = new Map<string, number>();
  stages.forEach((s, i) => index.set(s.name, i));
  const pending = stages.map(() => 0);
  const dependents: number[][] = stages.map(() => []);
  stages.forEach((stage, i) => {
    for (const need of new Set(stage.needs)) {
      const j = index.get(need);
      if (j === undefined) throw new InvalidStageGraphError(`stage '${stage.name}' needs unknown stage '${need}'`);
      pending[i] = (pending[i] ?? 0) + 1;
      dependents[j]?.push(i);
    }
  });
  // Ready set kept sorted by file index; n <= maxStages, so sorted insertion is cheap.
  const ready = stages.flatMap((_, i) => (pending[i] === 0 ? [i] : []));
  const out: string[] = [];
  while (ready.length > 0) {
    const i = ready.shift() ?? 0;
    out.push(stages[i]?.name ?? '');
    for (const d of dependents[i] ?? []) {
      pending[d] = (pending[d] ?? 0) - 1;
      if (pending[d] === 0) {
        const at = ready.findIndex((r) => r > d);
        ready.splice(at < 0 ? ready.length : at, 0, d);
      }
    }
  }
  if (out.length < stages.length) {
    const needs = new Map(stages.map((s) => [s.name, s.needs]));
    const cycle = findCycles(
      stages.map((s) => s.name),
      (n) => needs.get(n) ?? [],
    )[0];
    const path = cycle?.path ?? [];
    throw new InvalidStageGraphError(`dependency cycle: ${formatCycle(path)}`, path);
  }
  return out;
}
