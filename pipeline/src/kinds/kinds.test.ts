import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatProblems,
  parsePipeline,
  pipelineJsonSchema,
  type PipelineSpec,
  type Problem,
  type StageDef,
} from '../index.js';
import { lines, ok, problems } from '../parse-testing.js';
import { KINDS, STAGE_TYPES, kindFor, kindOf, stageSchema, stageSchemas } from './index.js';

function stageOf(p: PipelineSpec, name: string): StageDef {
  const s = p.stages.find((x) => x.name === name);
  assert.ok(s, `no stage '${name}'`);
  return s;
}

const NO_RESOURCES = { memoryBytes: null, nanoCpus: null, pids: null };

const ALL_KINDS = [
  'name: a',
  'env: { G: g, TOK: { secret: tok } }',
  'stages:',
  '  cmd: { image: i, command: x }',
  '  img: { type: build, tags: ["webapp:${{ DOCKYARD_RUN_NUMBER }}", webapp:latest], secrets: { npmrc: npm-token } }',
  '  env: { type: deploy, template: env.yml, needs: [img] }',
  '  t: { type: test, image: i, needs: [env] }',
  '',
].join('\n');

test('every kind parses with its defaults applied; type omitted means command', () => {
  const p = ok(ALL_KINDS);
  const types = p.stages.map((s) => `${s.name}:${s.type}:${s.spec.type}`);
  assert.deepEqual(types, ['cmd:command:command', 'img:build:build', 'env:deploy:deploy', 't:test:test']);
  assert.deepEqual(stageOf(p, 'cmd').spec, {
    type: 'command',
    image: 'i',
    commands: ['x'],
    executor: 'docker',
    resources: NO_RESOURCES,
  });
  assert.deepEqual(stageOf(p, 'img').spec, {
    type: 'build',
    context: '.',
    dockerfile: 'Dockerfile',
    target: null,
    args: {},
    tags: ['webapp:${{ DOCKYARD_RUN_NUMBER }}', 'webapp:latest'],
    push: false,
    secrets: { npmrc: 'npm-token' },
  });
  assert.deepEqual(stageOf(p, 'env').spec, {
    type: 'deploy',
    template: 'env.yml',
    images: {},
    seed: {},
    ttlMs: 3_600_000,
    healthTimeoutMs: 120_000,
    keepOnFailure: false,
  });
  const testSpec = { type: 'test', image: 'i', commands: [], environment: null, junit: null, resources: NO_RESOURCES };
  assert.deepEqual(stageOf(p, 't').spec, testSpec);
  assert.equal(ok('name: a\nstages:\n  s: { type: command, image: i, command: x }\n').stages[0]?.type, 'command');
});

test('explicit kind keys override the defaults', () => {
  const p = ok(
    [
      'name: a',
      'stages:',
      '  b: { type: build, context: app, dockerfile: docker/Dockerfile.prod, target: runtime, tags: [team/web-app:1.2.3], push: true,',
      '       args: { VERSION: "1.10", DEBUG: false, N: 3 } }',
      '  d: { type: deploy, template: env/compose.yml, images: { web: "reg/web:${{ DOCKYARD_RUN_ID }}" }, seed: { data: fixtures/db.tar },',
      '       ttl: 30m, health_timeout: 90s, keep_on_failure: true }',
      '  t: { type: test, image: i, commands: [make test], junit: /out/junit.xml, resources: { memory: 512m, cpus: 1.5 },',
      '       needs: [d], environment: d }',
      '',
    ].join('\n'),
  );
  const [b, d, t] = p.stages.map((s) => s.spec);
  assert.deepEqual(b, {
    type: 'build',
    context: 'app',
    dockerfile: 'docker/Dockerfile.prod',
    target: 'runtime',
    args: { VERSION: '1.10', DEBUG: 'false', N: '3' },
    tags: ['team/web-app:1.2.3'],
    push: true,
    secrets: {},
  });
  assert.deepEqual(d, {
    type: 'deploy',
    template: 'env/compose.yml',
    images: { web: 'reg/web:${{ DOCKYARD_RUN_ID }}' },
    seed: { data: 'fixtures/db.tar' },
    ttlMs: 1_800_000,
    healthTimeoutMs: 90_000,
    keepOnFailure: true,
  });
  assert.deepEqual(t, {
    type: 'test',
    image: 'i',
    commands: ['make test'],
    environment: 'd',
    junit: '/out/junit.xml',
    resources: { memoryBytes: 512 * 1024 ** 2, nanoCpus: 1_500_000_000, pids: null },
  });
});

test("retry is null when absent for every kind (the control plane applies the kind's default)", () => {
  const p = ok(ALL_KINDS);
  const retries = p.stages.map((s) => s.retry);
  assert.deepEqual(retries, [null, null, null, null]);
  const d = ok('name: a\nstages:\n  d: { type: deploy, template: e.yml, retry: 2 }\n').stages[0];
  assert.deepEqual(d?.retry, { count: 2, on: ['lost'] });
});

test('pipeline env is merged into command and test stages only; build secrets become SecretRefs', () => {
  const p = ok(ALL_KINDS);
  const tok = { env: 'TOK', secret: 'tok', asFile: false };
  assert.deepEqual(p.env, { G: 'g' });
  assert.deepEqual(p.secrets, [tok]);
  for (const name of ['cmd', 't']) {
    assert.deepEqual(stageOf(p, name).env, { G: 'g' }, name);
    assert.deepEqual(stageOf(p, name).secrets, [tok], name);
  }
  assert.deepEqual(stageOf(p, 'img').env, {});
  assert.deepEqual(stageOf(p, 'img').secrets, [{ env: 'npmrc', secret: 'npm-token', asFile: false }]);
  assert.deepEqual(stageOf(p, 'env').env, {});
  assert.deepEqual(stageOf(p, 'env').secrets, []);
});

test("unknown stage type is reported at the type's value with a hint (BUG: issues.ts names the whole mapping)", () => {
  const src = (type: string): string => `name: a\nstages:\n  s:\n    type: ${type}\n    tags: [x]\n`;
  assert.deepEqual(lines(src('bild')), [
    "dockyard.yml:4:11: stages.s.type: unknown stage type 'bild' (did you mean 'build'?); types are command, build, deploy, test, approval, notify, update-service, ui-test",
  ]);
  assert.deepEqual(lines(src('Build')), [
    "dockyard.yml:4:11: stages.s.type: unknown stage type 'Build' (did you mean 'build'?); types are command, build, deploy, test, approval, notify, update-service, ui-test",
  ]);
  assert.deepEqual(lines(src('42')), [
    "dockyard.yml:4:11: stages.s.type: unknown stage type '42'; types are command, build, deploy, test, approval, notify, update-service, ui-test",
  ]);
});

test("a key of another kind is an unknown key, hinted from the stage's own kind", () => {
  const src = [
    'name: a',
    'stages:',
    '  c: { image: i, command: x, tags: [x], enviroment: x }',
    '  b: { type: build, tags: [x], image: i, tag: [y], contxt: ., env: { A: b } }',
    '  d: { type: deploy, template: e.yml, keep_on_failur: true }',
    '  t: { type: test, image: i, enviroment: d, push: true }',
    '',
  ].join('\n');
  assert.deepEqual(lines(src), [
    "dockyard.yml:3:30: stages.c: unknown key 'tags'",
    "dockyard.yml:3:41: stages.c: unknown key 'enviroment'",
    "dockyard.yml:4:32: stages.b: unknown key 'image'",
    "dockyard.yml:4:42: stages.b: unknown key 'tag' (did you mean 'tags'?)",
    "dockyard.yml:4:52: stages.b: unknown key 'contxt' (did you mean 'context'?)",
    "dockyard.yml:4:63: stages.b: unknown key 'env'",
    "dockyard.yml:5:39: stages.d: unknown key 'keep_on_failur' (did you mean 'keep_on_failure'?)",
    "dockyard.yml:6:30: stages.t: unknown key 'enviroment' (did you mean 'environment'?)",
    "dockyard.yml:6:45: stages.t: unknown key 'push'",
  ]);
});

test('required keys per kind: build tags, deploy template, test image', () => {
  assert.deepEqual(lines('name: a\nstages:\n  b: { type: build }\n  d: { type: deploy }\n  t: { type: test }\n'), [
    "dockyard.yml:3:3: stages.b: missing required key 'tags'",
    "dockyard.yml:4:3: stages.d: missing required key 'template'",
    "dockyard.yml:5:3: stages.t: missing required key 'image'",
  ]);
});

const buildWithTags = (tags: string): string => `name: a\nstages:\n  b:\n    type: build\n    tags: ${tags}\n`;

test('build tags: expressions accepted, invalid tags refused', () => {
  const good = [
    'web',
    'team/web-app:1.2.3',
    'webapp:${{ DOCKYARD_RUN_NUMBER }}',
    'web:v${{DOCKYARD_RUN_ID}}-amd64',
    'web:${{ DOCKYARD_COMMIT }}',
  ];
  assert.deepEqual(ok(buildWithTags(JSON.stringify(good))).stages[0]?.spec, {
    ...(ok(buildWithTags('[x]')).stages[0]?.spec as object),
    tags: good,
  });
  const hint = 'use name[:tag], lowercase name, e.g. webapp:${{ DOCKYARD_RUN_NUMBER }}';
  assert.deepEqual(lines(buildWithTags('["WebApp:1", "a b", "web:", ":1", "/web"]')), [
    `dockyard.yml:5:12: stages.b.tags[0]: invalid tag 'WebApp:1': ${hint}`,
    `dockyard.yml:5:24: stages.b.tags[1]: invalid tag 'a b': ${hint}`,
    `dockyard.yml:5:31: stages.b.tags[2]: invalid tag 'web:': ${hint}`,
    `dockyard.yml:5:39: stages.b.tags[3]: invalid tag ':1': ${hint}`,
    `dockyard.yml:5:45: stages.b.tags[4]: invalid tag '/web': ${hint}`,
  ]);
  assert.deepEqual(lines(buildWithTags('[]')), [
    'dockyard.yml:5:11: stages.b.tags: tags must list at least one name:tag',
  ]);
  const unclosed = lines(buildWithTags('["web:${{ DOCKYARD_RUN_ID"]'));
  assert.ok(
    unclosed.includes("dockyard.yml:5:12: stages.b.tags[0]: unclosed '${{': close it with '}}'"),
    unclosed.join('\n'),
  );
});

test('build args keep their scalar spelling, as env values do (BUG: parse.ts keeps the source only for env and agent)', () => {
  const src =
    'name: a\nstages:\n  b:\n    type: build\n    tags: [x]\n    args: { VERSION: 1.10, MASK: 0x1f, BIG: 1e3, ON: yes }\n';
  const spec = ok(src).stages[0]?.spec;
  assert.deepEqual(spec?.type === 'build' && spec.args, { VERSION: '1.10', MASK: '0x1f', BIG: '1e3', ON: 'yes' });
});

test('build tags: spaces and braces are allowed only inside ${{ }} (BUG: build.ts TAG_PATTERN)', () => {
  const hint = 'use name[:tag], lowercase name, e.g. webapp:${{ DOCKYARD_RUN_NUMBER }}';
  assert.deepEqual(lines(buildWithTags('["web:v 1", "web:}}", "web:{x}"]')), [
    `dockyard.yml:5:12: stages.b.tags[0]: invalid tag 'web:v 1': ${hint}`,
    `dockyard.yml:5:23: stages.b.tags[1]: invalid tag 'web:}}': ${hint}`,
    `dockyard.yml:5:33: stages.b.tags[2]: invalid tag 'web:{x}': ${hint}`,
  ]);
});

test('build and deploy values: paths inside the source, secret ids and names, durations', () => {
  const src = [
    'name: a',
    'stages:',
    '  b: { type: build, context: ../up, dockerfile: /etc/Dockerfile, tags: [x], push: "yes" }',
    '  s: { type: build, tags: [x], secrets: { "bad id!": ok, npm: "bad name" } }',
    '  d: { type: deploy, template: ../e.yml, ttl: 25h, health_timeout: 0s }',
    '',
  ].join('\n');
  const inside = 'must be a relative path inside the source (no leading /, no ..)';
  assert.deepEqual(lines(src), [
    `dockyard.yml:3:30: stages.b.context: '../up' ${inside}`,
    `dockyard.yml:3:49: stages.b.dockerfile: '/etc/Dockerfile' ${inside}`,
    "dockyard.yml:3:83: stages.b.push: expected boolean, got string 'yes'",
    `dockyard.yml:4:43: stages.s.secrets["bad id!"]: invalid build secret id 'bad id!'`,
    "dockyard.yml:4:63: stages.s.secrets.npm: invalid secret name 'bad name'",
    `dockyard.yml:5:32: stages.d.template: '../e.yml' ${inside}`,
    "dockyard.yml:5:47: stages.d.ttl: duration '25h' exceeds the maximum of 24h",
    "dockyard.yml:5:68: stages.d.health_timeout: duration '0s' must be greater than 0",
  ]);
});

const STAGES = 'stages:\n  s: { image: i, command: x }\n';

test('source: git URL (file://, http(s) only) and ref; registry address, username, password secret', () => {
  const parse = (top: string): PipelineSpec => ok(`name: a\n${top}\n${STAGES}`);
  const p = parse(
    'source: { git: "https://x.org/r.git", ref: release/v1 }\nregistry: { address: "127.0.0.1:5000", username: bob, password: pw }',
  );
  assert.deepEqual(p.source, { kind: 'git', url: 'https://x.org/r.git', ref: 'release/v1' });
  assert.deepEqual(p.registry, { address: '127.0.0.1:5000', username: 'bob', passwordSecret: 'pw' });
  assert.deepEqual(parse('source: { git: "file:///srv/r.git" }').source, {
    kind: 'git',
    url: 'file:///srv/r.git',
    ref: null,
  });
  const plain = parse('source: { git: "http://git.local/r" }\nregistry: { address: reg.local }');
  assert.deepEqual(
    [plain.source, plain.registry],
    [
      { kind: 'git', url: 'http://git.local/r', ref: null },
      { address: 'reg.local', username: null, passwordSecret: null },
    ],
  );
  const bad =
    'source: { git: "ssh://git@x/r.git", ref: "-bad" }\nregistry: { address: "https://reg:5000", password: "bad pw", usrname: x }';
  assert.deepEqual(lines(`name: a\n${bad}\n${STAGES}`), [
    "dockyard.yml:2:16: source.git: invalid git URL 'ssh://git@x/r.git': use file://, http:// or https://",
    "dockyard.yml:2:42: source.ref: invalid git ref '-bad'",
    "dockyard.yml:3:22: registry.address: invalid registry address 'https://reg:5000': use host[:port]",
    "dockyard.yml:3:52: registry.password: invalid secret name 'bad pw'",
    "dockyard.yml:3:62: registry: unknown key 'usrname' (did you mean 'username'?)",
  ]);
  assert.deepEqual(lines(`name: a\nsource: { ref: main }\nregistry: { username: u }\n${STAGES}`), [
    "dockyard.yml:2:1: source: missing required key 'git'",
    "dockyard.yml:3:1: registry: missing required key 'address'",
  ]);
});

test('test environment: must be listed in needs and name a deploy stage', () => {
  const src = [
    'name: a',
    'stages:',
    '  c: { image: i, command: x }',
    '  d: { type: deploy, template: e.yml }',
    '  t1: { type: test, image: i, environment: d }',
    '  t2: { type: test, image: i, needs: [c], environment: c }',
    '  t3: { type: test, image: i, needs: [d], environment: d }',
    '',
  ].join('\n');
  assert.deepEqual(lines(src), [
    "dockyard.yml:5:44: stages.t1.environment: environment 'd' must be a deploy stage listed in needs",
    "dockyard.yml:6:56: stages.t2.environment: environment 'c' is not a deploy stage",
  ]);
  const t3 = ok(src.replace(/ {2}t[12]:.*\n/g, '')).stages[2]?.spec;
  assert.equal(t3?.type === 'test' && t3.environment, 'd');
});

test('JSON Schema: the eight pipeline kinds, each with its own keys (internal ones left out)', () => {
  const schema = pipelineJsonSchema() as Record<string, any>;
  const kinds = schema.properties.stages.additionalProperties.oneOf as Record<string, any>[];
  const byType = Object.fromEntries(kinds.map((k) => [k.properties.type.const as string, k]));
  assert.deepEqual(Object.keys(byType), [
    'command',
    'build',
    'deploy',
    'test',
    'approval',
    'notify',
    'update-service',
    'ui-test',
  ]);
  const common = ['type', 'needs', 'timeout', 'retry', 'agent'];
  const own = (type: string): string[] =>
    Object.keys(byType[type]!.properties as object).filter((k) => !common.includes(k));
  assert.deepEqual(own('command'), ['image', 'commands', 'command', 'env', 'resources', 'executor']);
  assert.deepEqual(own('build'), ['context', 'dockerfile', 'target', 'args', 'tags', 'push', 'secrets']);
  assert.deepEqual(own('deploy'), ['template', 'images', 'seed', 'ttl', 'health_timeout', 'keep_on_failure']);
  assert.deepEqual(own('test'), ['image', 'commands', 'command', 'environment', 'junit', 'env', 'resources']);
  const required = kinds.map((k) => k.required);
  assert.deepEqual(own('approval'), ['approvers', 'on_timeout', 'forbid_self', 'reminder', 'instructions']);
  assert.deepEqual(own('notify'), ['channels', 'subject', 'body']);
  assert.deepEqual(own('update-service'), ['service', 'file', 'image', 'revision', 'reason']);
  assert.deepEqual(own('ui-test'), [
    'journey',
    'env',
    'service',
    'url',
    'steps',
    'script',
    'retries',
    'threshold',
    'expect_every',
  ]);
  assert.deepEqual(required, [
    undefined,
    ['type', 'tags'],
    ['type', 'template'],
    ['type', 'image'],
    ['type', 'timeout', 'approvers'],
    ['type', 'channels'],
    ['type', 'service'],
    ['type'],
  ]);
  for (const k of kinds) {
    assert.equal(k.title, `Stage (type: ${k.properties.type.const})`);
    for (const key of common) assert.ok(key in k.properties, `${k.title} has ${key}`);
  }
});

test('the registry is the one list: types, stage schemas and the union derive from KINDS, in its order', () => {
  // Internal kinds (spawned by a server kind) are in KINDS but no pipeline may name them.
  assert.deepEqual(
    STAGE_TYPES,
    Object.keys(KINDS).filter((t) => t !== 'service-step'),
  );
  assert.equal(kindOf({ type: 'service-step' }), undefined);
  assert.deepEqual(Object.keys(stageSchemas), STAGE_TYPES);
  // The discriminator values, in the union's order (command's `type` is optional).
  assert.deepEqual(
    stageSchema.options.map((o) => [...o._zod.propValues.type!][0]),
    STAGE_TYPES,
  );
  for (const t of STAGE_TYPES) assert.equal(kindFor(t).type, t, `KINDS.${t} is the kind of type ${t}`);
});
