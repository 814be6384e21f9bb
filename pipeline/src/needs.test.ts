import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, ok } from './parse-testing.js';

const src = (needs: string, gate = 'on_timeout: skip') =>
  [
    'name: a',
    'stages:',
    '  build: { image: i, command: x }',
    `  gate: { type: approval, needs: [build], approvers: [alice], timeout: 1h, ${gate} }`,
    `  ship: { image: i, command: "echo \${{ stages.gate.outputs.decision }}", needs: ${needs} }`,
    '',
  ].join('\n');

test('needs: names and { stage, if_skipped } mappings; continueIfSkipped lists the needs written if_skipped: continue', () => {
  const ship = (needs: string) => ok(src(needs)).stages.find((s) => s.name === 'ship')!;
  assert.deepEqual(
    [ship('[build, { stage: gate, if_skipped: continue }]')].map((s) => [s.needs, s.continueIfSkipped]),
    [[['build', 'gate'], ['gate']]],
  );
  assert.deepEqual(
    [ship('[{ stage: gate }, build, build]')].map((s) => [s.needs, s.continueIfSkipped]),
    [[['gate', 'build'], []]],
  );
  assert.deepEqual(ship('[{ stage: gate, if_skipped: skip }]').continueIfSkipped, []);
  assert.deepEqual(ok(src('[gate]')).stages.find((s) => s.name === 'build')!.continueIfSkipped, []);
});

test('needs: a bad entry is refused at its path (unknown stage, option value or key, a repeated name, a need that never skips)', () => {
  const all = (needs: string, gate?: string) => lines(src(needs, gate)).join('\n');
  assert.match(
    all('[build, { stage: gaet, if_skipped: continue }]'),
    /stages\.ship\.needs\[1\]\.stage: unknown stage 'gaet' \(did you mean 'gate'\?\)/,
  );
  assert.match(
    all('[{ stage: gate, if_skipped: maybe }]'),
    /stages\.ship\.needs\[0\]\.if_skipped: if_skipped must be skip or continue, got "maybe"/,
  );
  assert.match(
    all('[{ stage: gate, if_skiped: continue }]'),
    /stages\.ship\.needs\[0\]: unknown key 'if_skiped' \(did you mean 'if_skipped'\?\)/,
  );
  assert.match(all('[{ if_skipped: continue }]'), /stages\.ship\.needs\[0\]: missing required key 'stage'/);
  assert.match(all('[3]'), /stages\.ship\.needs\[0\]: expected string or mapping, got number 3/);
  assert.match(all('[{ stage: ship }]'), /stages\.ship\.needs\[0\]\.stage: a stage cannot need itself/);
  assert.match(
    all('[gate, { stage: gate, if_skipped: continue }]'),
    /stages\.ship\.needs\[1\]\.stage: 'gate' is listed more than once in needs: list it once, as \{ stage: gate, \.\.\. \}/,
  );
  // Only a stage that can skip itself (an approval with on_timeout: skip) makes if_skipped: continue mean something.
  const never =
    /stages\.ship\.needs\[0\]\.if_skipped: if_skipped: continue never applies: stage '(build|gate)' never skips itself \(only an approval stage with 'on_timeout: skip' does\)/;
  assert.match(all('[{ stage: build, if_skipped: continue }, gate]'), never);
  assert.match(all('[{ stage: gate, if_skipped: continue }]', 'on_timeout: reject'), never);
  // A cycle through a mapping entry is found and placed at that entry.
  const cyc = [
    'name: a',
    'stages:',
    '  x: { image: i, command: c, needs: [y] }',
    '  y: { image: i, command: c, needs: [z, { stage: x }] }',
    '  z: { image: i, command: c }',
    '',
  ].join('\n');
  assert.deepEqual(lines(cyc), ['dockyard.yml:4:41: stages.y.needs[1]: dependency cycle: x -> y -> x']);
});
