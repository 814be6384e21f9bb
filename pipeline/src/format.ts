import type { ValuePath } from './ast.js';
import type { Problem } from './types.js';

const SIMPLE_KEY = /^[A-Za-z0-9_-]+$/;

/** `['stages', 'build', 'commands', 0]` → `stages.build.commands[0]`; odd keys are bracketed: `stages["a.b"]`. */
export function formatPath(path: ValuePath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (SIMPLE_KEY.test(String(seg))) out += out === '' ? String(seg) : `.${String(seg)}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/**
 * Renders problems one per line, compiler style, e.g.
 * `dockyard.yml:3:5: stages.build: unknown key 'imag' (did you mean 'image'?)`.
 * Problems about the whole file have no path segment.
 */
export function formatProblems(problems: Problem[], filename = 'dockyard.yml'): string {
  return problems
    .map((p) => `${filename}:${p.line}:${p.column}: ${p.path === '' ? '' : `${p.path}: `}${p.message}`)
    .join('\n');
}
