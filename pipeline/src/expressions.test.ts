import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BUILTIN_VARIABLES,
  SubstitutionError,
  formatProblems,
  parsePipeline,
  referencedStages,
  referencesIn,
  substitute,
  substituteDeep,
  type PipelineSpec,
  type Problem,
  type Resolver,
} from './index.js';
import { lines, ok, problems } from './parse-testing.js';

const BUILTINS = 'DOCKYARD_RUN_ID, DOCKYARD_RUN_NUMBER, DOCKYARD_PIPELINE, DOCKYARD_COMMIT, DOCKYARD_STAGE';

test('references to needed stages are accepted, directly or transitively', () => {
  const p = ok(
    [
      'name: a',
      'stages:',
      '  a: { image: i, command: x }',
      '  b: { image: i, command: "echo ${{ stages.a.outputs.x }}", needs: [a] }',
      '  c:',
      '    image: i',
      '    needs: [b]',
      '    command: "echo ${{ stages.a.outputs.x }} ${{stages.b.outputs.y}} ${{ DOCKYARD_RUN_NUMBER }}"',
      '    env: { A: "${{ stages.a.outputs.x }}", RUN: "${{ DOCKYARD_RUN_ID }}" }',
      '',
    ].join('\n'),
  );
  const c = p.stages[2];
  assert.deepEqual(c?.spec.type === 'command' && c.spec.commands, [
    'echo ${{ stages.a.outputs.x }} ${{stages.b.outputs.y}} ${{ DOCKYARD_RUN_NUMBER }}',
  ]);
  assert.deepEqual(c?.env, { A: '${{ stages.a.outputs.x }}', RUN: '${{ DOCKYARD_RUN_ID }}' });
});

test('expression problems: not in needs, own outputs, unknown stage, unknown built-in, malformed, unclosed', () => {
  const src = [
    'name: a', // 1
    'stages:', // 2
    '  a: { image: i, command: x }', // 3
    '  b: { image: i, command: x, needs: [a] }', // 4
    '  c:', // 5
    '    image: i', // 6
    '    needs: [b]', // 7
    '    commands:', // 8
    '      - "echo ${{ stages.a.outputs.x }}"', // 9 transitive: fine
    '      - "echo ${{ stages.c.outputs.x }}"', // 10
    '      - "echo ${{ stages.zz.outputs.x }}"', // 11
    '      - "echo ${{ DOCKYARD_FOO }}"', // 12
    '      - "echo ${{ foo bar }}"', // 13
    '      - "echo ${{ DOCKYARD_RUN_ID"', // 14
    '      - "echo ${{ stages.d.outputs.x }}"', // 15
    '      - "echo ${{ stages.a.x }}"', // 16
    '      - "echo ${{ }}"', // 17
    '  d: { image: i, command: x }', // 18
    '',
  ].join('\n');
  const use = 'use ${{ stages.NAME.outputs.KEY }} or a built-in such as ${{ DOCKYARD_RUN_NUMBER }}';
  assert.deepEqual(lines(src), [
    'dockyard.yml:10:9: stages.c.commands[1]: a stage cannot read its own outputs (${{ stages.c.outputs.x }})',
    'dockyard.yml:11:9: stages.c.commands[2]: ${{ stages.zz... }} names no stage of this pipeline',
    `dockyard.yml:12:9: stages.c.commands[3]: unknown variable 'DOCKYARD_FOO' in \${{ DOCKYARD_FOO }}: built-ins are ${BUILTINS}`,
    `dockyard.yml:13:9: stages.c.commands[4]: invalid expression \${{ foo bar }}: ${use}`,
    "dockyard.yml:14:9: stages.c.commands[5]: unclosed '${{': close it with '}}'",
    "dockyard.yml:15:9: stages.c.commands[6]: ${{ stages.d.outputs.x }} needs 'd' in this stage's needs",
    `dockyard.yml:16:9: stages.c.commands[7]: invalid expression \${{ stages.a.x }}: ${use}`,
    `dockyard.yml:17:9: stages.c.commands[8]: invalid expression \${{  }}: ${use}`,
  ]);
});

test('a reference to a downstream stage (one that needs this one) is not in needs', () => {
  const src =
    'name: a\nstages:\n  a:\n    image: i\n    command: "echo ${{ stages.b.outputs.x }}"\n  b:\n    image: i\n    command: x\n    needs: [a]\n';
  assert.deepEqual(lines(src), [
    "dockyard.yml:5:14: stages.a.command: ${{ stages.b.outputs.x }} needs 'b' in this stage's needs",
  ]);
});

test('expressions are checked in every kind: env values, build tags and args, deploy images, test image', () => {
  const src = [
    'name: a', // 1
    'stages:', // 2
    '  s:', // 3
    '    image: i', // 4
    '    command: x', // 5
    '    env:', // 6
    '      A: "${{ stages.b.outputs.x }}"', // 7
    '      B: pre-${{ DOCKYARD_NOPE }}', // 8
    '  b:', // 9
    '    type: build', // 10
    '    tags: ["web:${{ stages.s.outputs.v }}"]', // 11
    '    args: { V: "${{ DOCKYARD_STAGE }}", W: "${{ stages.nope.outputs.v }}" }', // 12
    '  d:', // 13
    '    type: deploy', // 14
    '    template: e.yml', // 15
    '    images: { web: "${{ stages.b.outputs.image }}" }', // 16
    '  t:', // 17
    '    type: test', // 18
    '    image: "${{ stages.b.outputs.image }}"', // 19
    '',
  ].join('\n');
  assert.deepEqual(lines(src), [
    "dockyard.yml:7:10: stages.s.env.A: ${{ stages.b.outputs.x }} needs 'b' in this stage's needs",
    `dockyard.yml:8:10: stages.s.env.B: unknown variable 'DOCKYARD_NOPE' in \${{ DOCKYARD_NOPE }}: built-ins are ${BUILTINS}`,
    "dockyard.yml:11:12: stages.b.tags[0]: ${{ stages.s.outputs.v }} needs 's' in this stage's needs",
    'dockyard.yml:12:44: stages.b.args.W: ${{ stages.nope... }} names no stage of this pipeline',
    "dockyard.yml:16:20: stages.d.images.web: ${{ stages.b.outputs.image }} needs 'b' in this stage's needs",
    "dockyard.yml:19:12: stages.t.image: ${{ stages.b.outputs.image }} needs 'b' in this stage's needs",
  ]);
});

test('expressions in image fields are accepted; spaces only inside ${{ }}', () => {
  const p = ok(
    [
      'name: a',
      'stages:',
      '  b: { type: build, tags: [web] }',
      '  c: { image: "reg:5000/${{ stages.b.outputs.image }}", command: x, needs: [b] }',
      '  d: { type: deploy, template: e.yml, needs: [b], images: { web: "${{ stages.b.outputs.image }}" } }',
      '  t: { type: test, image: "web:${{ DOCKYARD_RUN_NUMBER }}", needs: [d], environment: d }',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    p.stages.map((s) => (s.spec.type === 'deploy' ? s.spec.images.web : 'image' in s.spec ? s.spec.image : null)),
    [null, 'reg:5000/${{ stages.b.outputs.image }}', '${{ stages.b.outputs.image }}', 'web:${{ DOCKYARD_RUN_NUMBER }}'],
  );
  const bad = 'image must be a non-empty reference without spaces (at most 255 chars)';
  assert.deepEqual(
    lines(
      'name: a\nstages:\n  u:\n    image: "x:${{ DOCKYARD_RUN_ID"\n    command: x\n  v:\n    image: "a b"\n    command: x\n',
    ),
    [
      `dockyard.yml:4:12: stages.u.image: ${bad}`,
      "dockyard.yml:4:12: stages.u.image: unclosed '${{': close it with '}}'",
      `dockyard.yml:7:12: stages.v.image: ${bad}`,
    ],
  );
});

test('pipeline env expressions are checked too (BUG: checks.ts skips the pipeline env)', () => {
  const src =
    'name: a\nenv:\n  X: "${{ stages.a.outputs.x }}"\n  Y: "${{ BOGUS }}"\nstages:\n  a: { image: i, command: x }\n';
  const found = problems(src);
  assert.deepEqual(
    found.map((p) => `${p.line}:${p.column}: ${p.path}`),
    ['3:6: env.X', '4:6: env.Y'],
  );
  assert.match(found[0]!.message, /stages\.a/);
  assert.equal(found[1]!.message, `unknown variable 'BOGUS' in \${{ BOGUS }}: built-ins are ${BUILTINS}`);
});

test('referencesIn: every expression with its parse result, unclosed reported', () => {
  assert.deepEqual(referencesIn('no expressions, $ and {{ }} alone'), []);
  assert.deepEqual(referencesIn('${{ stages.b-1.outputs.image_id }}:${{DOCKYARD_COMMIT}}'), [
    { ok: true, ref: { kind: 'output', stage: 'b-1', key: 'image_id' } },
    { ok: true, ref: { kind: 'builtin', name: 'DOCKYARD_COMMIT' } },
  ]);
  assert.deepEqual(referencesIn('${{ web.host }} ${{ DOCKYARD_STAGE'), [
    {
      ok: false,
      message:
        'invalid expression ${{ web.host }}: use ${{ stages.NAME.outputs.KEY }} or a built-in such as ${{ DOCKYARD_RUN_NUMBER }}',
    },
    { ok: false, message: "unclosed '${{': close it with '}}'" },
  ]);
  assert.deepEqual(
    referencesIn('${{ stages.Web.outputs.x }}').map((r) => r.ok),
    [false],
    'stage names are lowercase',
  );
  assert.deepEqual(BUILTIN_VARIABLES.join(', '), BUILTINS);
});

const resolver: Resolver = (ref) => {
  if (ref.kind === 'builtin') return ref.name === 'DOCKYARD_RUN_NUMBER' ? '42' : undefined;
  return ref.stage === 'build' && ref.key === 'image' ? 'reg/web@sha256:abc' : undefined;
};

test('substitute: replaces what the resolver knows; text without expressions is returned as is', () => {
  assert.equal(substitute('plain $ text {{ }}', resolver), 'plain $ text {{ }}');
  assert.equal(substitute('web:${{ DOCKYARD_RUN_NUMBER }}-${{DOCKYARD_RUN_NUMBER}}', resolver), 'web:42-42');
  assert.equal(substitute('run ${{ stages.build.outputs.image }}', resolver), 'run reg/web@sha256:abc');
  // A resolved value is inserted literally, never substituted again.
  assert.equal(
    substitute('${{ DOCKYARD_RUN_ID }}', () => '${{ DOCKYARD_RUN_NUMBER }}'),
    '${{ DOCKYARD_RUN_NUMBER }}',
  );
  assert.equal(
    substitute('a${{ DOCKYARD_STAGE }}b', () => ''),
    'ab',
  );
});

test('substitute partial leaves unknown expressions in place; a missing one throws SubstitutionError', () => {
  const text = 'web:${{ DOCKYARD_RUN_NUMBER }} from ${{ stages.test.outputs.passed }}';
  assert.equal(substitute(text, resolver, true), 'web:42 from ${{ stages.test.outputs.passed }}');
  assert.throws(
    () => substitute(text, resolver),
    (err: unknown) => {
      assert.ok(err instanceof SubstitutionError);
      assert.equal(err.name, 'SubstitutionError');
      assert.equal(err.message, 'cannot resolve ${{ stages.test.outputs.passed }}');
      assert.deepEqual(err.ref, { kind: 'output', stage: 'test', key: 'passed' });
      return true;
    },
  );
  // An invalid expression cannot be left in place, even partially.
  for (const partial of [false, true]) {
    assert.throws(
      () => substitute('${{ NOPE }}', resolver, partial),
      (err: unknown) =>
        err instanceof SubstitutionError && err.ref === undefined && /unknown variable 'NOPE'/.test(err.message),
    );
  }
});

test('substituteDeep: every string in a JSON value, keys and non-strings untouched, input not mutated', () => {
  const input = {
    image: '${{ stages.build.outputs.image }}',
    '${{ DOCKYARD_RUN_NUMBER }}': 'key stays',
    list: ['n=${{ DOCKYARD_RUN_NUMBER }}', 3, true, null, { deep: ['${{ stages.other.outputs.x }}'] }],
  };
  const copy = structuredClone(input);
  assert.deepEqual(substituteDeep(input, resolver, true), {
    image: 'reg/web@sha256:abc',
    '${{ DOCKYARD_RUN_NUMBER }}': 'key stays',
    list: ['n=42', 3, true, null, { deep: ['${{ stages.other.outputs.x }}'] }],
  });
  assert.deepEqual(input, copy);
  assert.throws(() => substituteDeep(input, resolver), SubstitutionError);
  assert.equal(substituteDeep(7, resolver), 7);
  assert.equal(substituteDeep(null, resolver), null);
});

test('referencedStages: output references anywhere, deduplicated, built-ins and invalid ones ignored', () => {
  assert.deepEqual(
    referencedStages({
      a: '${{ stages.build.outputs.image }} ${{ DOCKYARD_RUN_ID }}',
      b: ['${{ stages.env.outputs.web.host }}', { c: '${{stages.build.outputs.digest}}' }],
      d: '${{ stages.Bad.outputs.x }} ${{ stages.late.outputs.x',
      e: 5,
      f: null,
    }),
    ['build', 'env'],
  );
  assert.deepEqual(referencedStages('plain'), []);
  assert.deepEqual(referencedStages(['${{ stages.x.outputs.y }}']), ['x']);
});

test('a key that a build, deploy or test stage never reports is refused; a command stage may report any key', () => {
  const src = [
    'name: a', // 1
    'stages:', // 2
    '  b: { type: build, tags: ["x:1"] }', // 3
    '  d: { type: deploy, template: e.yml, needs: [b], images: { web: "${{ stages.b.outputs.image }}" } }', // 4
    '  t: { type: test, needs: [d], environment: d, image: i, command: x }', // 5
    '  produce: { image: i, command: x }', // 6
    '  use:', // 7
    '    image: i', // 8
    '    needs: [t, produce]', // 9
    '    commands:', // 10
    '      - "echo ${{ stages.b.outputs.digest }} ${{ stages.d.outputs.web.address }} ${{ stages.t.outputs.passed }}"', // 11
    '      - "echo ${{ stages.produce.outputs.version }} ${{ stages.produce.outputs.anything-else }}"', // 12
    '      - "echo ${{ stages.b.outputs.tag }}"', // 13
    '      - "echo ${{ stages.d.outputs.web.port }}"', // 14
    '      - "echo ${{ stages.t.outputs.pased }}"', // 15
    '',
  ].join('\n');
  assert.deepEqual(lines(src), [
    "dockyard.yml:13:9: stages.use.commands[2]: ${{ stages.b.outputs.tag }}: a build stage never reports 'tag' (it reports image, image_id, digest, size_bytes, layers, commit)",
    "dockyard.yml:14:9: stages.use.commands[3]: ${{ stages.d.outputs.web.port }}: a deploy stage never reports 'web.port' (it reports env_id, network, owner, expires_at_ms, SERVICE.host, SERVICE.ip, SERVICE.address)",
    "dockyard.yml:15:9: stages.use.commands[4]: ${{ stages.t.outputs.pased }}: a test stage never reports 'pased' (did you mean 'passed'?) (it reports exit_code, passed, failed, skipped, errors, total)",
  ]);
});
