import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCycles, topologicalOrder } from './dag.js';
import { InvalidStageGraphError } from './errors.js';
import type { StageDef } from './types.js';

function stage(name: string, needs: string[] = []): StageDef {
  return {
    name,
    type: 'command',
    needs,
    continueIfSkipped: [],
    env: {},
    secrets: [],
    timeoutMs: null,
    retry: { count: 1, on: ['lost'] },
    agent: {},
    spec: {
      type: 'command',
      image: 'img',
      commands: ['true'],
      executor: 'docker',
      resources: { memoryBytes: null, nanoCpus: null, pids: null },
    },
  };
}

test('topologicalOrder puts needs first and keeps file order for ties', () => {
  const order = topologicalOrder([
    stage('deploy', ['test', 'lint']),
    stage('test', ['build']),
    stage('lint'),
    stage('build'),
    stage('docs'),
  ]);
  // Always the earliest ready stage in file order.
  assert.deepEqual(order, ['lint', 'build', 'test', 'deploy', 'docs']);
});

test('topologicalOrder handles empty, diamond and duplicate needs', () => {
  assert.deepEqual(topologicalOrder([]), []);
  assert.deepEqual(topologicalOrder([stage('a'), stage('b', ['a']), stage('c', ['a', 'a']), stage('d', ['c', 'b'])]), [
    'a',
    'b',
    'c',
    'd',
  ]);
});

test('topologicalOrder throws InvalidStageGraphError with the cycle path', () => {
  assert.throws(
    () => topologicalOrder([stage('a', ['b']), stage('b', ['c']), stage('c', ['a']), stage('d')]),
    (err: unknown) =>
      err instanceof InvalidStageGraphError &&
      err.code === 'invalid' &&
      err.message === 'dependency cycle: a -> b -> c -> a' &&
      err.cycle.join(',') === 'a,b,c,a',
  );
  assert.throws(() => topologicalOrder([stage('a', ['zzz'])]), /needs unknown stage 'zzz'/);
});

test('findCycles is iterative: a 100,000-long chain does not blow the stack', () => {
  const n = 100_000;
  const names = Array.from({ length: n }, (_, i) => `s${i}`);
  const needs = (name: string): string[] => {
    const i = Number(name.slice(1));
    return i + 1 < n ? [`s${i + 1}`] : ['s0'];
  };
  const cycles = findCycles(names, needs);
  assert.equal(cycles.length, 1);
  assert.equal(cycles[0]?.path.length, n + 1);
});
