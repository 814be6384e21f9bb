import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENV_FILE_LIMITS, parseEnvFile } from './env-file.js';
import { okOf, problemLines } from './service-testing.js';

const parse = (text: string | Uint8Array) => parseEnvFile(text, { file: 'services/web.env' });

test('dotenv format: comments, export, quotes, inline comments, multi-line values, empty values', () => {
  const text = [
    '# database',
    'export DB_HOST=db.internal',
    'DB_PORT = 5432   # inline comment',
    "GREETING='hello # not a comment'",
    'MOTD="line one\\nline two"',
    'CERT="-----BEGIN-----',
    'abc',
    '-----END-----"',
    'EMPTY=',
    '',
    'LAST=x',
  ].join('\r\n');
  const r = okOf(parse(text));
  assert.deepEqual(r.env, {
    DB_HOST: 'db.internal',
    DB_PORT: '5432',
    GREETING: 'hello # not a comment',
    MOTD: 'line one\nline two',
    CERT: '-----BEGIN-----\nabc\n-----END-----',
    EMPTY: '',
    LAST: 'x',
  });
  assert.deepEqual(r.secrets, []);
});

test('a value written exactly ${{ secrets.NAME }} is a secret reference, spaces optional, quoted or not', () => {
  const r = okOf(parse('A=${{ secrets.db-password }}\nB=${{secrets.token}}\nC="${{  secrets.api.key  }}"\nD=plain\n'));
  assert.deepEqual(r.env, { D: 'plain' });
  assert.deepEqual(r.secrets, [
    { env: 'A', secret: 'db-password' },
    { env: 'B', secret: 'token' },
    { env: 'C', secret: 'api.key' },
  ]);
});

test('any other ${{ is refused at the value; a bad secret name too', () => {
  const text =
    'A=prefix-${{ secrets.x }}\nB=${{ stages.build.outputs.image }}\nC=${{ secrets.bad/name }}\nD=$HOME and ${NOT_EXPANDED}\n';
  assert.deepEqual(problemLines(parse(text)), [
    "services/web.env:1:3: A: '${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal",
    "services/web.env:2:3: B: '${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal",
    "services/web.env:3:3: C: invalid secret name 'bad/name' in ${{ secrets.NAME }}: use 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit",
  ]);
  // Other dollars are literal: nothing is expanded.
  assert.deepEqual(okOf(parse('D=$HOME and ${NOT_EXPANDED}\n')).env, { D: '$HOME and ${NOT_EXPANDED}' });
});

test('bad lines, bad names, names set twice and an unterminated quote name their line', () => {
  const text = 'OK=1\nnot an entry\n  1ST=x\nA.B=y\nOK=2\n__proto__=z\nQ="never closed\nR=after\n';
  assert.deepEqual(problemLines(parse(text)), [
    "services/web.env:2:1: expected NAME=VALUE, got 'not an entry'",
    "services/web.env:3:3: invalid variable name '1ST': must match ^[A-Za-z_][A-Za-z0-9_]*$",
    "services/web.env:4:1: invalid variable name 'A.B': must match ^[A-Za-z_][A-Za-z0-9_]*$",
    "services/web.env:5:1: 'OK' is set twice (first on line 1)",
    "services/web.env:6:1: invalid variable name '__proto__': must match ^[A-Za-z_][A-Za-z0-9_]*$",
    "services/web.env:7:3: Q: unterminated \" quote: the value of 'Q' never ends",
  ]);
});

test('bounds: 64 KiB and 1000 entries; the default file name is .env', () => {
  assert.equal(ENV_FILE_LIMITS.maxBytes, 64 * 1024);
  assert.deepEqual(problemLines(parseEnvFile(`A=${'x'.repeat(70_000)}\n`)), [
    '.env:1:1: file is at least 70003 bytes; the limit is 65536 bytes',
  ]);
  const many = Array.from({ length: 1001 }, (_, i) => `K${i}=v`).join('\n');
  assert.deepEqual(problemLines(parse(many)), ['services/web.env:1001:1: more than 1000 entries in the env file']);
  assert.equal(Object.keys(okOf(parse(many.split('\n').slice(0, 1000).join('\n'))).env).length, 1000);
});

test('an empty file or one of comments only is an empty environment', () => {
  assert.deepEqual(okOf(parse('')), { ok: true, env: {}, secrets: [] });
  assert.deepEqual(okOf(parse('# nothing\n\n   \n')), { ok: true, env: {}, secrets: [] });
});

test('hostile quoting is read in bounded time (a bound against backtracking, not a speed target)', () => {
  const started = performance.now();
  const escaped = `A='${"\\'".repeat(15_000)}' junk\nB="${'\\"'.repeat(15_000)}\n`;
  assert.deepEqual(problemLines(parse(escaped)), [
    "services/web.env:2:3: B: unterminated \" quote: the value of 'B' never ends",
  ]);
  const quoted = Array.from({ length: 1000 }, (_, i) => `K${i}='${'"'.repeat(40)}'`).join('\n');
  assert.equal(Object.keys(okOf(parse(quoted)).env).length, 1000);
  assert.ok(performance.now() - started < 1000, 'took too long');
});
