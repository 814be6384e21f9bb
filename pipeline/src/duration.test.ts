import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from './duration.js';

test('parseDuration accepts units and descending combinations', () => {
  assert.deepEqual(parseDuration('10m'), { ok: true, ms: 600_000 });
  assert.deepEqual(parseDuration('1h30m'), { ok: true, ms: 5_400_000 });
  assert.deepEqual(parseDuration('2m30s'), { ok: true, ms: 150_000 });
  assert.deepEqual(parseDuration('1s500ms'), { ok: true, ms: 1_500 });
  assert.deepEqual(parseDuration('250ms'), { ok: true, ms: 250 });
  assert.deepEqual(parseDuration('24h'), { ok: true, ms: 86_400_000 });
});

test('parseDuration rejects bad units, zero, negative, too long and wrong order', () => {
  const bad: [string, RegExp][] = [
    ['10x', /invalid duration '10x'/],
    ['0s', /must be greater than 0/],
    ['25h', /exceeds the maximum of 24h/],
    ['24h1ms', /exceeds the maximum of 24h/],
    ['-1m', /must be positive/],
    ['', /invalid duration/],
    ['1.5h', /invalid duration/],
    ['30m1h', /invalid duration/],
    ['10 m', /invalid duration/],
    ['99999999999999999999999h', /exceeds/],
  ];
  for (const [text, message] of bad) {
    const r = parseDuration(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.message, message, text);
  }
});
