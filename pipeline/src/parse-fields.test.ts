// parsePipeline, field by field: retry (forms and errors), env (merging, coercion, bad
// names) and env secrets (forms and errors), command vs commands, image vs executor,
// timeout durations, and needs (unknown names, self-needs, cycles). Whole documents are
// in parse.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, ok } from './parse-testing.js';

test('retry forms: number, object with defaults, dedupe, 0 disables', () => {
  const retry = (r: string): unknown =>
    ok(`name: a\nstages:\n  s:\n    image: i\n    command: x\n    retry: ${r}\n`).stages[0]?.retry;
  assert.deepEqual(retry('2'), { count: 2, on: ['lost'] });
  assert.deepEqual(retry('0'), { count: 0, on: [] });
  assert.deepEqual(retry('{ count: 3 }'), { count: 3, on: ['lost'] });
  assert.deepEqual(retry('{ on: [failed, failed, timeout] }'), { count: 1, on: ['failed', 'timeout'] });
  assert.deepEqual(retry('{}'), { count: 1, on: ['lost'] });
  assert.deepEqual(retry('{ count: 0, on: [failed] }'), { count: 0, on: [] });
});

test('retry errors: out of range, bad reason, wrong type, unknown key', () => {
  const src = (r: string): string => `name: a\nstages:\n  s:\n    image: i\n    command: x\n    retry: ${r}\n`;
  assert.deepEqual(lines(src('11')), ['dockyard.yml:6:12: stages.s.retry: must be <= 10, got 11']);
  assert.deepEqual(lines(src('1.5')), ['dockyard.yml:6:12: stages.s.retry: expected an integer, got number 1.5']);
  assert.deepEqual(lines(src('yes')), [
    "dockyard.yml:6:12: stages.s.retry: expected number or mapping, got string 'yes'",
  ]);
  assert.deepEqual(lines(src('{ on: [lost, never] }')), [
    "dockyard.yml:6:25: stages.s.retry.on[1]: expected one of lost, errored, failed, timeout, got string 'never'",
  ]);
  assert.deepEqual(lines(src('{ on: [] }')), ['dockyard.yml:6:18: stages.s.retry.on: must have at least 1 item']);
  assert.deepEqual(lines(src('{ cont: 2 }')), [
    "dockyard.yml:6:14: stages.s.retry: unknown key 'cont' (did you mean 'count'?)",
  ]);
});

test('env: stage env merged over pipeline env, scalars coerced keeping their spelling', () => {
  const p = ok(
    'name: a\nenv: { A: "1", B: 0x1f, C: false, D: 1e3 }\nstages:\n  s:\n    image: i\n    command: x\n    env: { A: over, E: 7 }\n',
  );
  assert.deepEqual(p.env, { A: '1', B: '0x1f', C: 'false', D: '1e3' });
  assert.deepEqual(p.stages[0]?.env, { A: 'over', B: '0x1f', C: 'false', D: '1e3', E: '7' });
});

test('env errors: bad names (incl. __proto__) and null values', () => {
  assert.deepEqual(
    lines('name: a\nenv:\n  1BAD: x\n  __proto__: y\n  OK:\nstages:\n  s:\n    image: i\n    command: x\n'),
    [
      "dockyard.yml:3:3: env.1BAD: invalid env name '1BAD': must match ^[A-Za-z_][A-Za-z0-9_]*$",
      "dockyard.yml:4:3: env.__proto__: key '__proto__' is not allowed",
      'dockyard.yml:5:6: env.OK: expected string, number, boolean or mapping, got null',
    ],
  );
});

test('env secrets: { secret: NAME [, file: true] } in pipeline and stage env, split from plain values', () => {
  const p = ok(
    [
      'name: a',
      'env:',
      '  TOKEN: { secret: deploy-token }',
      '  PLAIN: x',
      '  KEYFILE: { secret: ssh.key, file: true }',
      'stages:',
      '  build: { image: i, command: x }',
      '  deploy:',
      '    image: i',
      '    command: x',
      '    env:',
      '      TOKEN: plain-now',
      '      PLAIN: { secret: Other_1 }',
      '      OWN:',
      '        secret: own',
      '        file: false',
      '',
    ].join('\n'),
  );
  const pipelineSecrets = [
    { env: 'TOKEN', secret: 'deploy-token', asFile: false },
    { env: 'KEYFILE', secret: 'ssh.key', asFile: true },
  ];
  assert.deepEqual(p.env, { PLAIN: 'x' });
  assert.deepEqual(p.secrets, pipelineSecrets);
  const [build, deploy] = p.stages;
  assert.deepEqual(build?.env, { PLAIN: 'x' });
  assert.deepEqual(build?.secrets, pipelineSecrets);
  // A stage entry of either kind replaces the pipeline entry of the same name.
  assert.deepEqual(deploy?.env, { TOKEN: 'plain-now' });
  assert.deepEqual(deploy?.secrets, [
    { env: 'PLAIN', secret: 'Other_1', asFile: false },
    { env: 'KEYFILE', secret: 'ssh.key', asFile: true },
    { env: 'OWN', secret: 'own', asFile: false },
  ]);
});

test('env secret errors: unknown keys with hints, bad names, wrong types, each at its position', () => {
  const src = [
    'name: a', // 1
    'env:', // 2
    '  TOKEN:', // 3
    '    secert: deploy-token', // 4
    'stages:', // 5
    '  s:', // 6
    '    image: i', // 7
    '    command: x', // 8
    '    env:', // 9
    '      A: { secret: x, fiel: true }', // 10
    '      B: { secret: "bad name" }', // 11
    '      C: { secret: ok-name, file: yes }', // 12
    '      D: {}', // 13
    '      E: [x]', // 14
    '',
  ].join('\n');
  assert.deepEqual(lines(src), [
    "dockyard.yml:3:3: env.TOKEN: missing required key 'secret'",
    "dockyard.yml:4:5: env.TOKEN: unknown key 'secert' (did you mean 'secret'?)",
    "dockyard.yml:10:23: stages.s.env.A: unknown key 'fiel' (did you mean 'file'?)",
    "dockyard.yml:11:20: stages.s.env.B.secret: invalid secret name 'bad name': use 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit",
    "dockyard.yml:12:35: stages.s.env.C.file: expected boolean, got string 'yes'",
    "dockyard.yml:13:7: stages.s.env.D: missing required key 'secret'",
    'dockyard.yml:14:10: stages.s.env.E: expected string, number, boolean or mapping, got sequence',
  ]);
});

test('command vs commands: exactly one, non-empty', () => {
  const stage = (body: string): string => `name: a\nstages:\n  s:\n    image: i\n${body}`;
  assert.deepEqual(lines(stage('    command: x\n    commands: [y]\n')), [
    "dockyard.yml:5:5: stages.s.command: use either 'command' or 'commands', not both",
  ]);
  assert.deepEqual(lines(stage('    env: {}\n')), [
    "dockyard.yml:3:3: stages.s: missing required key 'commands' (or 'command')",
  ]);
  assert.deepEqual(lines(stage('    commands: []\n')), [
    'dockyard.yml:5:15: stages.s.commands: commands must list at least one command',
  ]);
  assert.deepEqual(lines(stage('    commands: [ok, "  "]\n')), [
    'dockyard.yml:5:20: stages.s.commands[1]: command must not be blank',
  ]);
});

test('image vs executor', () => {
  assert.deepEqual(lines('name: a\nstages:\n  s:\n    command: x\n'), [
    "dockyard.yml:3:3: stages.s: missing required key 'image' (required unless executor: shell)",
  ]);
  assert.deepEqual(lines('name: a\nstages:\n  s:\n    executor: shell\n    image: i\n    command: x\n'), [
    "dockyard.yml:5:5: stages.s.image: 'image' is not allowed with executor: shell",
  ]);
  assert.deepEqual(lines('name: a\nstages:\n  s:\n    executor: podman\n    command: x\n'), [
    "dockyard.yml:4:15: stages.s.executor: expected one of docker, shell, got string 'podman'",
  ]);
});

test('bad durations are reported at the value', () => {
  const src = (t: string): string => `name: a\nstages:\n  s:\n    image: i\n    command: x\n    timeout: ${t}\n`;
  assert.deepEqual(lines(src('10x')), [
    "dockyard.yml:6:14: stages.s.timeout: invalid duration '10x': expected an integer with unit ms, s, m or h, e.g. 90s, 10m or 1h30m",
  ]);
  assert.deepEqual(lines(src('0s')), ["dockyard.yml:6:14: stages.s.timeout: duration '0s' must be greater than 0"]);
  assert.deepEqual(lines(src('25h')), [
    "dockyard.yml:6:14: stages.s.timeout: duration '25h' exceeds the maximum of 24h",
  ]);
  assert.deepEqual(lines(src('-1m')), ["dockyard.yml:6:14: stages.s.timeout: duration '-1m' must be positive"]);
  assert.deepEqual(lines(src('600')), [
    'dockyard.yml:6:14: stages.s.timeout: expected a duration string such as 10m or 1h30m, got number',
  ]);
});

test('needs: unknown names with hint, self-need, cycles with their path', () => {
  assert.deepEqual(
    lines(
      'name: a\nstages:\n  build:\n    image: i\n    command: x\n  test:\n    image: i\n    command: x\n    needs: [biuld, test]\n',
    ),
    [
      "dockyard.yml:9:13: stages.test.needs[0]: unknown stage 'biuld' (did you mean 'build'?)",
      'dockyard.yml:9:20: stages.test.needs[1]: a stage cannot need itself',
    ],
  );
  const cyc = [
    'name: a',
    'stages:',
    '  a: { image: i, command: x, needs: [b] }',
    '  b: { image: i, command: x, needs: [c] }',
    '  c: { image: i, command: x, needs: [a] }',
    '  d: { image: i, command: x, needs: [a] }',
    '',
  ].join('\n');
  assert.deepEqual(lines(cyc), ['dockyard.yml:5:38: stages.c.needs[0]: dependency cycle: a -> b -> c -> a']);
});
