import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblems, parsePipeline, type PipelineSpec, type Problem } from './index.js';

const FULL = `version: 1
name: hello
env: { CI: true, LEVEL: 1.10, GREETING: hi }
stages:
  build:
    image: dockyard/busybox:1
    commands: ["echo hi", "make"]
    env: { GREETING: hello, TARGET: x86 }
    timeout: 10m
    retry: { count: 2, on: [lost, errored, failed, timeout] }
    agent: { os: linux, gpu: "true", cores: 8 }
  test:
    image: dockyard/busybox:1
    command: make test
    needs: [build]
    retry: 3
  local:
    executor: shell
    command: ./deploy.sh
    needs: [test, build]
    timeout: 1h30m
    retry: 0
`;

function ok(src: string): PipelineSpec {
  const r = parsePipeline(src);
  if (!r.ok) assert.fail(formatProblems(r.problems));
  return r.pipeline;
}

function problems(src: string | Uint8Array): Problem[] {
  const r = parsePipeline(src);
  assert.equal(r.ok, false, 'expected problems');
  return r.ok ? [] : r.problems;
}

/** Problems rendered compactly for exact assertions. */
const lines = (src: string | Uint8Array): string[] => formatProblems(problems(src)).split('\n');

test('valid full example parses with every field normalised', () => {
  const p = ok(FULL);
  assert.equal(p.version, 1);
  assert.equal(p.name, 'hello');
  assert.deepEqual(p.env, { CI: 'true', LEVEL: '1.10', GREETING: 'hi' });
  assert.deepEqual(p.stages, [
    {
      name: 'build',
      type: 'command',
      needs: [],
      env: { CI: 'true', LEVEL: '1.10', GREETING: 'hello', TARGET: 'x86' },
      secrets: [],
      timeoutMs: 600_000,
      retry: { count: 2, on: ['lost', 'errored', 'failed', 'timeout'] },
      agent: { os: 'linux', gpu: 'true', cores: '8' },
      spec: {
        type: 'command',
        image: 'dockyard/busybox:1',
        commands: ['echo hi', 'make'],
        executor: 'docker',
        resources: { memoryBytes: null, nanoCpus: null, pids: null },
      },
    },
    {
      name: 'test',
      type: 'command',
      needs: ['build'],
      env: { CI: 'true', LEVEL: '1.10', GREETING: 'hi' },
      secrets: [],
      timeoutMs: null,
      retry: { count: 3, on: ['lost'] },
      agent: {},
      spec: {
        type: 'command',
        image: 'dockyard/busybox:1',
        commands: ['make test'],
        executor: 'docker',
        resources: { memoryBytes: null, nanoCpus: null, pids: null },
      },
    },
    {
      name: 'local',
      type: 'command',
      needs: ['test', 'build'],
      env: { CI: 'true', LEVEL: '1.10', GREETING: 'hi' },
      secrets: [],
      timeoutMs: 5_400_000,
      retry: { count: 0, on: [] },
      agent: {},
      spec: {
        type: 'command',
        image: null,
        commands: ['./deploy.sh'],
        executor: 'shell',
        resources: { memoryBytes: null, nanoCpus: null, pids: null },
      },
    },
  ]);
});

test("defaults: version 1, no env, no needs, no timeout, the type's retry, docker, uploaded source", () => {
  const p = ok('name: a\nstages:\n  s:\n    image: i\n    command: x\n');
  assert.deepEqual(p, {
    version: 1,
    name: 'a',
    env: {},
    secrets: [],
    source: { kind: 'upload' },
    registry: null,
    stages: [
      {
        name: 's',
        type: 'command',
        needs: [],
        env: {},
        secrets: [],
        timeoutMs: null,
        retry: null,
        agent: {},
        spec: {
          type: 'command',
          image: 'i',
          commands: ['x'],
          executor: 'docker',
          resources: { memoryBytes: null, nanoCpus: null, pids: null },
        },
      },
    ],
  });
});

test('stage order is file order, even for integer-like names', () => {
  const p = ok(
    'name: a\nstages:\n  z:\n    image: i\n    command: x\n  "10":\n    image: i\n    command: x\n  "2":\n    image: i\n    command: x\n',
  );
  assert.deepEqual(
    p.stages.map((s) => s.name),
    ['z', '10', '2'],
  );
});

test('retry forms: number, object with defaults, dedupe, 0 disables', () => {
  const retry = (r: string): unknown => ok(`name: a\nstages:\n  s:\n    image: i\n    command: x\n    retry: ${r}\n`).stages[0]?.retry;
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
  assert.deepEqual(lines(src('yes')), ["dockyard.yml:6:12: stages.s.retry: expected number or mapping, got string 'yes'"]);
  assert.deepEqual(lines(src('{ on: [lost, never] }')), [
    "dockyard.yml:6:25: stages.s.retry.on[1]: expected one of lost, errored, failed, timeout, got string 'never'",
  ]);
  assert.deepEqual(lines(src('{ on: [] }')), ['dockyard.yml:6:18: stages.s.retry.on: must have at least 1 item']);
  assert.deepEqual(lines(src('{ cont: 2 }')), ["dockyard.yml:6:14: stages.s.retry: unknown key 'cont' (did you mean 'count'?)"]);
});

test('env: stage env merged over pipeline env, scalars coerced keeping their spelling', () => {
  const p = ok(
    'name: a\nenv: { A: "1", B: 0x1f, C: false, D: 1e3 }\nstages:\n  s:\n    image: i\n    command: x\n    env: { A: over, E: 7 }\n',
  );
  assert.deepEqual(p.env, { A: '1', B: '0x1f', C: 'false', D: '1e3' });
  assert.deepEqual(p.stages[0]?.env, { A: 'over', B: '0x1f', C: 'false', D: '1e3', E: '7' });
});

test('env errors: bad names (incl. __proto__) and null values', () => {
  assert.deepEqual(lines('name: a\nenv:\n  1BAD: x\n  __proto__: y\n  OK:\nstages:\n  s:\n    image: i\n    command: x\n'), [
    "dockyard.yml:3:3: env.1BAD: invalid env name '1BAD': must match ^[A-Za-z_][A-Za-z0-9_]*$",
    "dockyard.yml:4:3: env.__proto__: key '__proto__' is not allowed",
    'dockyard.yml:5:6: env.OK: expected string, number, boolean or mapping, got null',
  ]);
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
  assert.deepEqual(lines(stage('    env: {}\n')), ["dockyard.yml:3:3: stages.s: missing required key 'commands' (or 'command')"]);
  assert.deepEqual(lines(stage('    commands: []\n')), ['dockyard.yml:5:15: stages.s.commands: commands must list at least one command']);
  assert.deepEqual(lines(stage('    commands: [ok, "  "]\n')), ['dockyard.yml:5:20: stages.s.commands[1]: command must not be blank']);
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
  assert.deepEqual(lines(src('25h')), ["dockyard.yml:6:14: stages.s.timeout: duration '25h' exceeds the maximum of 24h"]);
  assert.deepEqual(lines(src('-1m')), ["dockyard.yml:6:14: stages.s.timeout: duration '-1m' must be positive"]);
  assert.deepEqual(lines(src('600')), ['dockyard.yml:6:14: stages.s.timeout: expected a duration string such as 10m or 1h30m, got number']);
});

test('needs: unknown names with hint, self-need, cycles with their path', () => {
  assert.deepEqual(
    lines('name: a\nstages:\n  build:\n    image: i\n    command: x\n  test:\n    image: i\n    command: x\n    needs: [biuld, test]\n'),
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

test('every problem is reported at once, sorted, with exact positions', () => {
  const src = [
    'version: 2', // 1
    'name: Hello', // 2
    'stages:', // 3
    '  build:', // 4
    '    imag: dockyard/busybox:1', // 5
    '    commands: ["echo hi"]', // 6
    '    timeout: 10x', // 7
    '    needs: [nope]', // 8
    '    executor: docker', // 9
    '  test:', // 10
    '    image: x', // 11
    '    command: 42', // 12
    'extra: true', // 13
    '',
  ].join('\n');
  assert.deepEqual(lines(src), [
    'dockyard.yml:1:10: version: must be 1, got number 2',
    "dockyard.yml:2:7: name: invalid name 'Hello': use 1-63 of a-z 0-9 . _ - starting with a letter or digit",
    "dockyard.yml:4:3: stages.build: missing required key 'image' (required unless executor: shell)",
    "dockyard.yml:5:5: stages.build: unknown key 'imag' (did you mean 'image'?)",
    "dockyard.yml:7:14: stages.build.timeout: invalid duration '10x': expected an integer with unit ms, s, m or h, e.g. 90s, 10m or 1h30m",
    "dockyard.yml:8:13: stages.build.needs[0]: unknown stage 'nope'",
    'dockyard.yml:12:14: stages.test.command: expected string, got number 42',
    "dockyard.yml:13:1: unknown key 'extra'",
  ]);
});

test('structural problems: missing keys, wrong types, bad stage names, stage count', () => {
  assert.deepEqual(lines('version: 1\n'), [
    "dockyard.yml:1:1: missing 'name' (and no directory name to default to)",
    "dockyard.yml:1:1: missing required key 'stages'",
  ]);
  assert.deepEqual(lines('name: a\nstages: {}\n'), ['dockyard.yml:2:9: stages: must define at least one stage']);
  assert.deepEqual(lines('name: a\nstages: [x]\n'), ['dockyard.yml:2:9: stages: expected mapping, got sequence']);
  assert.deepEqual(lines('name: a\nstages:\n  build:\n'), ['dockyard.yml:3:9: stages.build: expected mapping, got null']);
  assert.deepEqual(lines('name: a\nstages:\n  Build_X:\n    image: i\n    command: x\n'), [
    "dockyard.yml:3:3: stages.Build_X: invalid name 'Build_X': use 1-63 of a-z 0-9 . _ - starting with a letter or digit",
  ]);
  const many = Array.from({ length: 501 }, (_, i) => `  s${i}: { image: i, command: x }`).join('\n');
  assert.deepEqual(lines(`name: a\nstages:\n${many}\n`), ['dockyard.yml:3:3: stages: has 501 stages; the limit is 500']);
});

test('top level must be a mapping; empty file; YAML syntax errors have positions', () => {
  assert.deepEqual(lines('- a\n- b\n'), ['dockyard.yml:1:1: top level must be a mapping, got a sequence']);
  assert.deepEqual(lines('just text\n'), ['dockyard.yml:1:1: top level must be a mapping, got a scalar']);
  assert.deepEqual(lines(''), ["dockyard.yml:1:1: file is empty: expected a mapping with 'name' and 'stages'"]);
  assert.deepEqual(lines('name: a\nstages:\n  s: { image: i\n'), [
    'dockyard.yml:4:1: Flow map in block collection must be sufficiently indented and end with a }',
  ]);
  assert.deepEqual(lines('name: "a\n'), ['dockyard.yml:2:1: Missing closing "quote']);
  assert.deepEqual(lines('name: a\nstages:\n\ts: 1\n'), ['dockyard.yml:3:1: Tabs are not allowed as indentation']);
  assert.deepEqual(lines('name: a\n---\nname: b\n'), ['dockyard.yml:2:1: only one YAML document is allowed (remove ---)']);
  assert.deepEqual(lines('name: !custom a\nstages: {}\n'), ['dockyard.yml:1:7: Unresolved tag: !custom']);
});

test('__proto__ keys are refused, not silently dropped', () => {
  assert.deepEqual(lines('name: a\nstages:\n  s: { image: i, command: x, agent: { __proto__: x } }\n  __proto__: { image: i }\n'), [
    "dockyard.yml:3:39: stages.s.agent.__proto__: key '__proto__' is not allowed",
    "dockyard.yml:4:3: stages.__proto__: key '__proto__' is not allowed",
  ]);
});

test('formatProblems renders filename:line:col: path: message', () => {
  const text = formatProblems(
    [
      { path: 'stages.build', line: 3, column: 5, message: "unknown key 'imag'" },
      { path: '', line: 1, column: 1, message: 'file is empty' },
    ],
    'ci/dockyard.yml',
  );
  assert.equal(text, "ci/dockyard.yml:3:5: stages.build: unknown key 'imag'\nci/dockyard.yml:1:1: file is empty");
  assert.equal(formatProblems([]), '');
});

test('bytes input: UTF-8 decoded, BOM ignored', () => {
  const bytes = new TextEncoder().encode('\uFEFFname: café\nstages:\n  s: { image: i, command: "échö" }\n');
  const r = parsePipeline(bytes);
  assert.equal(r.ok, false); // 'café' is not a valid name
  assert.deepEqual(r.ok ? [] : formatProblems(r.problems).split('\n'), [
    "dockyard.yml:1:7: name: invalid name 'café': use 1-63 of a-z 0-9 . _ - starting with a letter or digit",
  ]);
  const good = parsePipeline(new TextEncoder().encode('name: cafe\nstages:\n  s: { image: i, command: "échö" }\n'));
  assert.equal(good.ok && good.pipeline.stages[0]?.spec.type === 'command' && good.pipeline.stages[0].spec.commands[0], 'échö');
});

test("name is optional: the caller's default (the directory name) names the pipeline", () => {
  const nameless = 'stages:\n  s:\n    image: i\n    command: x\n';
  const withDefault = parsePipeline(nameless, { defaultName: 'web-app' });
  assert.ok(withDefault.ok);
  assert.equal(withDefault.pipeline.name, 'web-app');
  const named = parsePipeline(`name: own\n${nameless}`, { defaultName: 'web-app' });
  assert.ok(named.ok);
  assert.equal(named.pipeline.name, 'own', 'a name in the file wins');
  assert.deepEqual(lines(nameless), ["dockyard.yml:1:1: missing 'name' (and no directory name to default to)"]);
  const bad = parsePipeline(nameless, { defaultName: 'Not Valid' });
  assert.ok(!bad.ok);
  assert.match(bad.problems[0]!.message, /missing 'name', and the default 'Not Valid' is not a valid name/);
});
