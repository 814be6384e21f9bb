import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblems, parsePipeline, PIPELINE_LIMITS } from './index.js';

/**
 * Parses, asserts failure within `budgetMs`, returns the rendered problems. The budgets are
 * bounds against blow-ups (a hostile file must not hold a server for minutes), set well
 * above what a busy 2-core machine takes: they are not speed targets.
 */
function refused(input: string | Uint8Array, budgetMs = 1000): string[] {
  const started = performance.now();
  const r = parsePipeline(input);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < budgetMs, `took ${elapsed.toFixed(0)}ms (budget ${budgetMs}ms)`);
  assert.equal(r.ok, false);
  return r.ok ? [] : formatProblems(r.problems).split('\n');
}

test('limits are the documented values', () => {
  assert.equal(PIPELINE_LIMITS.maxBytes, 1024 * 1024);
  assert.equal(PIPELINE_LIMITS.maxDepth, 64);
  assert.equal(PIPELINE_LIMITS.maxAliases, 100);
  assert.equal(PIPELINE_LIMITS.maxStages, 500);
  assert.equal(PIPELINE_LIMITS.maxKeys, 20_000);
});

test('a 10 MB file is refused before parsing, as string and as bytes', () => {
  const text = `name: a\nstages:\n${'  # padding padding padding padding\n'.repeat(300_000)}`;
  assert.ok(text.length > 10_000_000);
  assert.deepEqual(refused(text, 200), [
    'dockyard.yml:1:1: file is at least 10800016 bytes; the limit is 1048576 bytes',
  ]);
  assert.deepEqual(refused(new Uint8Array(10 * 1024 * 1024), 50), [
    'dockyard.yml:1:1: file is 10485760 bytes; the limit is 1048576 bytes',
  ]);
  // Just over the limit in bytes but not in UTF-16 length: multi-byte characters count as bytes.
  assert.match(
    refused(`name: a\n# ${'é'.repeat(600_000)}\n`)[0] ?? '',
    /file is 1200011 bytes; the limit is 1048576 bytes/,
  );
});

test('10,000-deep flow nesting is refused before yaml parses it', () => {
  // The estimate counts the root line as a level, so a bare top-level flow stops one bracket early.
  assert.deepEqual(refused('['.repeat(10_000), 100), ['dockyard.yml:1:64: nesting is deeper than 64 levels']);
  assert.deepEqual(refused(`name: a\nstages: ${'{a: '.repeat(10_000)}`, 100), [
    'dockyard.yml:2:261: nesting is deeper than 64 levels',
  ]);
  // Quoted brackets and brackets inside plain scalars do not count.
  const q = '['.repeat(100);
  const ok = parsePipeline(
    `name: a\nstages:\n  s:\n    image: i\n    env: { A: "${q}", B: '${q}' }\n    commands:\n      - echo ${'{'.repeat(100)}\n      - "${q}"\n`,
  );
  assert.equal(ok.ok, true, ok.ok ? '' : formatProblems(ok.problems));
});

test('10,000-deep block nesting is refused: sequences on one line and indented mappings', () => {
  assert.deepEqual(refused(`${'- '.repeat(10_000)}x\n`, 100), ['dockyard.yml:1:127: nesting is deeper than 64 levels']);
  const indented = Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
  assert.deepEqual(refused(indented, 100), ['dockyard.yml:65:65: nesting is deeper than 64 levels']);
  // Block scalar content is text, not structure.
  const script = Array.from({ length: 100 }, (_, i) => `      ${' '.repeat(i)}echo ${i}`).join('\n');
  const ok = parsePipeline(`name: a\nstages:\n  s:\n    image: i\n    commands:\n    - |\n${script}\n`);
  assert.equal(ok.ok, true, ok.ok ? '' : formatProblems(ok.problems));
});

test('billion laughs is refused via the alias limit', () => {
  const lines = ['name: a', 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= 9; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(',')}]`,
    );
  lines.push('stages: { s: { image: i, command: x, env: { X: *a9 } } }');
  assert.deepEqual(refused(lines.join('\n')), [
    'dockyard.yml:3:10: aliases expand too much (limit 100); refusing a possible alias bomb',
  ]);
  // Ordinary anchors still work.
  const ok = parsePipeline('name: a\nstages:\n  s: { image: &img i, command: x }\n  t: { image: *img, command: y }\n');
  assert.equal(ok.ok && ok.pipeline.stages[1]?.spec.type === 'command' && ok.pipeline.stages[1].spec.image, 'i');
});

test('key and item floods are refused before yaml parses them', () => {
  const keys = `name: a\nstages:\n  s:\n    env:\n${Array.from({ length: 30_000 }, (_, i) => `      K${i}: v`).join('\n')}\n`;
  assert.deepEqual(refused(keys, 300), ['dockyard.yml:20001:13: more than 20000 keys in the file']);
  assert.deepEqual(refused(`x: [${'1,'.repeat(400_000)}]`, 300), [
    'dockyard.yml:1:100006: more than 50000 sequence items in the file',
  ]);
  assert.deepEqual(refused(`x:\n${'- a\n'.repeat(200_000)}`, 300), [
    'dockyard.yml:50002:1: more than 50000 sequence items in the file',
  ]);
});

test('duplicate keys are refused at the second key, in linear time', () => {
  assert.deepEqual(refused('name: a\nstages:\n  s: { image: i, command: x, image: j }\n  s: {}\nname: b\n'), [
    "dockyard.yml:3:30: stages.s.image: duplicate key 'image'",
    "dockyard.yml:4:3: stages.s: duplicate key 's'",
    "dockyard.yml:5:1: name: duplicate key 'name'",
  ]);
  const many = `name: a\nenv:\n${'  A: 1\n'.repeat(15_000)}stages: {}\n`;
  assert.equal(refused(many, 5000).length, PIPELINE_LIMITS.maxProblems + 1);
});

test('invalid UTF-8 bytes are refused with their position', () => {
  const bytes = new Uint8Array([...new TextEncoder().encode('name: a\nstages: é'), 0xc3, 0x28, 0x0a]);
  assert.deepEqual(refused(bytes), ['dockyard.yml:2:10: file is not valid UTF-8 (byte 0xc3 at offset 18)']);
  assert.deepEqual(refused(new Uint8Array([0xed, 0xa0, 0x80])), [
    'dockyard.yml:1:1: file is not valid UTF-8 (byte 0xed at offset 0)',
  ]);
});

test('a near-limit but valid file parses quickly', () => {
  const stages = Array.from(
    { length: PIPELINE_LIMITS.maxStages },
    (_, i) =>
      `  s${i}:\n    image: i\n    commands: [a, b]\n    needs: [${i === 0 ? '' : `s${i - 1}`}]\n    env: { A: "1" }\n`,
  ).join('');
  const started = performance.now();
  const r = parsePipeline(`name: big\nstages:\n${stages}`);
  assert.ok(performance.now() - started < 10_000);
  assert.equal(r.ok && r.pipeline.stages.length, 500);
});
