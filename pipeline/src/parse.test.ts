// parsePipeline on whole documents: a full example and the defaults, normalised; stage
// order; every problem of a file at once, sorted and positioned; structural and YAML-level
// problems (top level, empty file, syntax, __proto__); formatProblems; bytes input; and
// the default name. Field-by-field rules (retry, env and secrets, command, image, timeout,
// needs) are in parse-fields.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblems, parsePipeline } from './index.js';
import { lines, ok } from './parse-testing.js';

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
      continueIfSkipped: [],
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
      continueIfSkipped: [],
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
      continueIfSkipped: [],
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
    notify: [],
    stages: [
      {
        name: 's',
        type: 'command',
        needs: [],
        continueIfSkipped: [],
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
  assert.deepEqual(lines('name: a\nstages:\n  build:\n'), [
    'dockyard.yml:3:9: stages.build: expected mapping, got null',
  ]);
  assert.deepEqual(lines('name: a\nstages:\n  Build_X:\n    image: i\n    command: x\n'), [
    "dockyard.yml:3:3: stages.Build_X: invalid name 'Build_X': use 1-63 of a-z 0-9 . _ - starting with a letter or digit",
  ]);
  const many = Array.from({ length: 501 }, (_, i) => `  s${i}: { image: i, command: x }`).join('\n');
  assert.deepEqual(lines(`name: a\nstages:\n${many}\n`), [
    'dockyard.yml:3:3: stages: has 501 stages; the limit is 500',
  ]);
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
  assert.deepEqual(lines('name: a\n---\nname: b\n'), [
    'dockyard.yml:2:1: only one YAML document is allowed (remove ---)',
  ]);
  assert.deepEqual(lines('name: !custom a\nstages: {}\n'), ['dockyard.yml:1:7: Unresolved tag: !custom']);
});

test('__proto__ keys are refused, not silently dropped', () => {
  assert.deepEqual(
    lines('name: a\nstages:\n  s: { image: i, command: x, agent: { __proto__: x } }\n  __proto__: { image: i }\n'),
    [
      "dockyard.yml:3:39: stages.s.agent.__proto__: key '__proto__' is not allowed",
      "dockyard.yml:4:3: stages.__proto__: key '__proto__' is not allowed",
    ],
  );
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
  assert.equal(
    good.ok && good.pipeline.stages[0]?.spec.type === 'command' && good.pipeline.stages[0].spec.commands[0],
    'échö',
  );
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
