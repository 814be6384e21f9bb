// Assertions the service tests share: a file that must parse, or its problems as the user sees them.
import assert from 'node:assert/strict';
import { formatServiceProblems, type ServiceProblem } from './service-problems.js';

/** The value of a result that must be ok (fails the test with its problems otherwise). */
export function okOf<T extends { ok: true }>(result: T | { ok: false; problems: ServiceProblem[] }): T {
  if (!result.ok) assert.fail(formatServiceProblems(result.problems));
  return result;
}

/** The rendered problems of a result that must fail, one string a line. */
export function problemLines(result: { ok: true } | { ok: false; problems: ServiceProblem[] }): string[] {
  assert.equal(result.ok, false, 'expected problems');
  return result.ok ? [] : formatServiceProblems(result.problems).split('\n');
}
