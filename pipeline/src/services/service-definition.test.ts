import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envFilePathOf, revisionSpecOf, serviceDefinition } from './service-definition.js';
import { okOf, problemLines } from './service-testing.js';

const FILE = 'services/web.yml';
const withEnv = (env: string, extra = '') =>
  `name: web\nimage: web:1\nport: 8080\nproxy_port: 9000\nenv_file: web.env\n${extra}env:\n${env}`;

test('the env file is found next to the service file', () => {
  assert.equal(envFilePathOf('services/web.yml', 'web.env'), 'services/web.env');
  assert.equal(envFilePathOf('web.yml', 'config/web.env'), 'config/web.env');
  assert.equal(envFilePathOf('a/b/web.yml', './x.env'), 'a/b/x.env');
});

test('env file first, env: overrides it; a name secret in one and plain in the other takes the env: one', () => {
  const envFile = 'A=file\nB=file\nC=${{ secrets.c-file }}\nD=${{ secrets.d-file }}\nE=file-only\nF=${{ secrets.f }}\n';
  const text = withEnv('  A: service\n  C: plain-now\n  B: { secret: b-service }\n  D: ${{ secrets.d-service }}\n');
  const { definition } = okOf(serviceDefinition(text, envFile, { file: FILE }));
  assert.deepEqual(definition.env, { E: 'file-only', A: 'service', C: 'plain-now' });
  assert.deepEqual(definition.secrets, [
    { env: 'F', secret: 'f' },
    { env: 'B', secret: 'b-service' },
    { env: 'D', secret: 'd-service' },
  ]);
  assert.equal(definition.envFile, 'web.env', 'kept as the file wrote it');
});

test('problems of both files, each naming its file', () => {
  const text = withEnv('  A: ${{ nope }}\n');
  // The service file's own problems stop there: its env_file path cannot be trusted.
  assert.deepEqual(problemLines(serviceDefinition(text, 'B=${{ x }}\n', { file: FILE })), [
    "services/web.yml:7:6: env.A: '${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal",
  ]);
  assert.deepEqual(
    problemLines(serviceDefinition(withEnv('  A: 1\n'), 'B=${{ x }}\nbad\n', { file: FILE, service: 'api' })),
    [
      "services/web.yml:1:7: name: the file declares service 'web' but the update-service stage updates 'api'",
      "services/web.env:1:3: B: '${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal",
      "services/web.env:2:1: expected NAME=VALUE, got 'bad'",
    ],
  );
});

test('a missing env file is a problem at env_file; without env_file the env text is not read', () => {
  assert.deepEqual(problemLines(serviceDefinition(withEnv('  A: 1\n'), null, { file: FILE })), [
    "services/web.yml:5:11: env_file: env_file 'services/web.env' does not exist",
  ]);
  const plain = 'name: web\nport: 8080\nproxy_port: 9000\nenv: { A: "1" }\n';
  assert.deepEqual(okOf(serviceDefinition(plain, null)).definition.env, { A: '1' });
  assert.deepEqual(okOf(serviceDefinition(plain, 'B=2\n', { service: 'web' })).definition.env, { A: '1' });
});

test("revisionSpecOf: the stage's image replaces the file's; neither is an error", () => {
  const def = okOf(
    serviceDefinition(withEnv('  Z: last\n  A: first\n'), 'M=${{ secrets.m }}\nB=${{ secrets.b }}\n'),
  ).definition;
  const fromFile = revisionSpecOf(def, null);
  assert.ok(fromFile.ok);
  assert.deepEqual(fromFile.spec, {
    image: 'web:1',
    env: { A: 'first', Z: 'last' },
    secrets: [
      { env: 'B', secret: 'b' },
      { env: 'M', secret: 'm' },
    ],
    command: null,
    port: 8080,
    health: { http: null, command: null, intervalMs: 1000, timeoutMs: 2000, minHealthyMs: 3000 },
    stopGraceMs: 10_000,
    replicas: 1,
  });
  assert.deepEqual(Object.keys(fromFile.spec.env), ['A', 'Z'], 'sorted, so equal content gives an equal spec');
  const fromStage = revisionSpecOf(def, 'registry.local/web@sha256:abc');
  assert.equal(fromStage.ok && fromStage.spec.image, 'registry.local/web@sha256:abc');
  const noImage = okOf(serviceDefinition('name: api\nport: 80\nproxy_port: 8080\n', null)).definition;
  assert.deepEqual(revisionSpecOf(noImage, null), {
    ok: false,
    message: "service 'api' has no image: set image: in the file or in the update-service stage",
  });
});
