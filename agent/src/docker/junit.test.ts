import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvFile } from './env-file.js';
import { parseJUnit } from './junit.js';

describe('parseJUnit', () => {
  it('counts a single root testsuite', () => {
    const r = parseJUnit(
      '<testsuite name="x"><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>',
    );
    assert.deepEqual(r, { ok: true, counts: { passed: 1, failed: 1, skipped: 0, errors: 0, total: 2 } });
  });

  it('falls back to suite attributes when there are no testcase elements', () => {
    const r = parseJUnit('<testsuites><testsuite tests="5" failures="1" errors="1" skipped="2"/></testsuites>');
    assert.deepEqual(r, { ok: true, counts: { passed: 1, failed: 1, skipped: 2, errors: 1, total: 5 } });
  });

  it('refuses malformed XML and other roots without throwing', () => {
    assert.equal(parseJUnit('<testsuite><testcase></testsuite>').ok, false);
    assert.deepEqual(parseJUnit('<html/>'), { ok: false, message: 'no <testsuites> or <testsuite> root element' });
  });
});

describe('parseEnvFile', () => {
  it('reads Compose env files', () => {
    const r = parseEnvFile('# c\n\nA=1\nexport B = two words # note\nC="x\\ny \\"q\\""\nD=\'$lit # kept\'\nE=\n');
    assert.deepEqual(r, { ok: true, env: { A: '1', B: 'two words', C: 'x\ny "q"', D: '$lit # kept', E: '' } });
  });

  it('names the first bad line', () => {
    assert.deepEqual(parseEnvFile('A=1\nnot a pair\n'), { ok: false, line: 2, message: 'expected KEY=VALUE' });
  });
});
