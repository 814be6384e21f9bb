import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePipeline } from './parse.js';

test('resources: memory sizes, cpus and pids become container limits', () => {
  const r = parsePipeline(
    'name: res\nstages:\n  a:\n    image: i\n    command: x\n    resources: { memory: 512m, cpus: 1.5, pids: 128 }\n  b:\n    image: i\n    command: x\n',
  );
  assert.ok(r.ok);
  assert.deepEqual((r.pipeline.stages[0]!.spec as { resources: unknown }).resources, {
    memoryBytes: 512 * 1024 ** 2,
    nanoCpus: 1.5e9,
    pids: 128,
  });
  assert.deepEqual((r.pipeline.stages[1]!.spec as { resources: unknown }).resources, {
    memoryBytes: null,
    nanoCpus: null,
    pids: null,
  });
});

test('resources: bad sizes are reported with line and column', () => {
  const r = parsePipeline(
    'name: res\nstages:\n  a:\n    image: i\n    command: x\n    resources: { memory: 12x, cpus: 0, pids: 3, disk: 1 }\n',
  );
  assert.ok(!r.ok);
  const text = r.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`).join('\n');
  assert.match(text, /6:26 stages\.a\.resources\.memory: invalid memory size '12x'/);
  assert.match(text, /stages\.a\.resources\.cpus/);
  assert.match(text, /stages\.a\.resources\.pids/);
  assert.match(text, /unknown key 'disk'/);
});
