// Checks the `${{ }}` expressions of one raw stage mapping: syntax, built-in
// names, that `stages.X` names a stage this one needs (directly or through
// another need), so its outputs exist when this stage is assigned, and that
// the key is one X's kind can report when its kind has fixed outputs.
import { isPlainObject } from './ast.js';
import { referencesIn } from './expressions.js';
import type { KindOutputs } from './kinds/kind.js';
import { needName } from './needs.js';
import { didYouMean } from './suggest.js';

type ProblemAt = (path: PropertyKey[], atKey: boolean, message: string) => void;

export function checkExpressions(
  stage: Record<string, unknown>,
  where: PropertyKey[],
  stageNames: readonly string[],
  problem: ProblemAt,
  ancestorsOf: (name: string) => Set<string> = () => new Set(),
  /** The stage's kind and its fixed outputs (undefined: any key, as for command stages). */
  outputsOf: (name: string) => { type: string; outputs?: KindOutputs } | undefined = () => undefined,
): void {
  const own = where[1] as string;
  const ancestors = ancestorsOf(own);
  const needs = Array.isArray(stage.needs) ? stage.needs.flatMap((n: unknown) => needName(n) ?? []) : [];
  const walk = (value: unknown, path: PropertyKey[]): void => {
    if (typeof value === 'string') {
      for (const r of referencesIn(value)) {
        if (!r.ok) problem(path, false, r.message);
        else if (r.ref.kind === 'output') {
          const target = r.ref.stage;
          if (target === own)
            problem(path, false, `a stage cannot read its own outputs (\${{ stages.${target}.outputs.${r.ref.key} }})`);
          else if (!stageNames.includes(target))
            problem(path, false, `\${{ stages.${target}... }} names no stage of this pipeline`);
          else if (!needs.includes(target) && !ancestors.has(target)) {
            problem(
              path,
              false,
              `\${{ stages.${target}.outputs.${r.ref.key} }} needs '${target}' in this stage's needs`,
            );
          } else {
            const kind = outputsOf(target);
            const fixed = kind?.outputs;
            if (fixed && !fixed.keys.includes(r.ref.key) && !fixed.pattern?.regex.test(r.ref.key)) {
              const known = [...fixed.keys, ...(fixed.pattern ? [fixed.pattern.shape] : [])].join(', ');
              problem(
                path,
                false,
                `\${{ stages.${target}.outputs.${r.ref.key} }}: a ${kind.type} stage never reports '${r.ref.key}'${didYouMean(r.ref.key, fixed.keys)} (it reports ${known})`,
              );
            }
          }
        }
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  for (const [key, value] of Object.entries(stage)) if (key !== 'needs' && key !== 'type') walk(value, [...where, key]);
}
