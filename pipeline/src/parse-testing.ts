// Assertions the pipeline's tests share: a file that must parse, or its problems.
import assert from 'node:assert/strict';
import { formatProblems } from './format.js';
import { parsePipeline } from './parse.js';
import type { PipelineSpec, Problem } from './types.js';

/** The pipeline of a file that must be valid (fails the test with its problems otherwise). */
export function ok(src: string | Uint8Array): PipelineSpec {
  const r = parsePipeline(src);
  if (!r.ok) assert.fail(formatProblems(r.problems));
  return r.pipeline;
}

/** The problems of a file that must be invalid. */
export function problems(src: string | Uint8Array): Problem[] {
  const r = parsePipeline(src);
  assert.equal(r.ok, false, 'expected problems');
  return r.ok ? [] : r.problems;
}

/** Problems rendered compactly for exact assertions. */
export const lines = (src: string | Uint8Array): string[] => formatProblems(problems(src)).split('\n');
