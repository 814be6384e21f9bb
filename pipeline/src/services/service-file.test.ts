import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseServiceFile, SERVICE_DEFAULTS } from './service-file.js';
import { SERVICE_FILE_LIMITS } from './service-schema.js';
import { okOf, problemLines } from './service-testing.js';

const MINIMAL = 'name: web\nport: 8080\nproxy_port: 9000\n';
const parse = (text: string | Uint8Array) => parseServiceFile(text, { file: 'services/web.yml' });

test('a minimal file gets every default', () => {
  assert.deepEqual(okOf(parse(MINIMAL)).definition, {
    name: 'web',
    image: null,
    replicas: 1,
    agents: {},
    hosts: null,
    port: 8080,
    proxyPort: 9000,
    command: null,
    env: {},
    secrets: [],
    envFile: null,
    health: { http: null, command: null, intervalMs: 1000, timeoutMs: 2000, minHealthyMs: 3000 },
    stopGraceMs: 10_000,
    update: { maxParallel: 1, watchWindowMs: 300_000, healthTimeoutMs: 60_000, drainTimeoutMs: 30_000 },
  });
  assert.equal(SERVICE_DEFAULTS.watchWindowMs, 5 * 60_000);
});

test('every key is read, durations in milliseconds', () => {
  const text = `name: web
image: registry.local/web:1.2
replicas: 3
agents: { zone: a, gpu: true }
hosts: 2
port: 8080
proxy_port: 18080
command: ["node", "server.js", "--port", "8080"]
env:
  LOG_LEVEL: debug
  VERSION: 1.10
  TOKEN: { secret: web-token }
  DB_PASSWORD: \${{ secrets.db-password }}
env_file: config/web.env
health:
  http: { path: /health, status: 204 }
  interval: 500ms
  timeout: 1s
  min_healthy_time: 10s
stop_grace_period: 1m30s
update:
  max_parallel: 2
  watch_window: 0s
  health_timeout: 2m
  drain_timeout: 45s
`;
  assert.deepEqual(okOf(parse(text)).definition, {
    name: 'web',
    image: 'registry.local/web:1.2',
    replicas: 3,
    agents: { zone: 'a', gpu: 'true' },
    hosts: 2,
    port: 8080,
    proxyPort: 18080,
    command: ['node', 'server.js', '--port', '8080'],
    env: { LOG_LEVEL: 'debug', VERSION: '1.10' },
    secrets: [
      { env: 'TOKEN', secret: 'web-token' },
      { env: 'DB_PASSWORD', secret: 'db-password' },
    ],
    envFile: 'config/web.env',
    health: {
      http: { path: '/health', status: 204 },
      command: null,
      intervalMs: 500,
      timeoutMs: 1000,
      minHealthyMs: 10_000,
    },
    stopGraceMs: 90_000,
    update: { maxParallel: 2, watchWindowMs: 0, healthTimeoutMs: 120_000, drainTimeoutMs: 45_000 },
  });
});

test('a string command is split into words; a health command is the other check; http status defaults to 200', () => {
  const cmd = okOf(
    parse(`${MINIMAL}command: sh -c 'echo "hi there"'\nhealth: { command: "wget -q -O- localhost:8080/" }\n`),
  );
  assert.deepEqual(cmd.definition.command, ['sh', '-c', 'echo "hi there"']);
  assert.deepEqual(cmd.definition.health.command, ['wget', '-q', '-O-', 'localhost:8080/']);
  assert.equal(cmd.definition.health.http, null);
  const http = okOf(parse(`${MINIMAL}health: { http: { path: /ready } }\n`));
  assert.deepEqual(http.definition.health.http, { path: '/ready', status: 200 });
});

test('missing keys, wrong types and out-of-range values, each at its line and column', () => {
  assert.deepEqual(problemLines(parse('image: web:1\nreplicas: 0\nhosts: 1.5\n')), [
    "services/web.yml:1:1: missing required key 'name'",
    "services/web.yml:1:1: missing required key 'port'",
    "services/web.yml:1:1: missing required key 'proxy_port'",
    'services/web.yml:2:11: replicas: must be >= 1, got 0',
    'services/web.yml:3:8: hosts: expected an integer, got number 1.5',
  ]);
  assert.deepEqual(problemLines(parse('name: Web_1\nport: 70000\nproxy_port: 80\nreplicas: 65\nagents: [a]\n')), [
    "services/web.yml:1:7: name: invalid service name 'Web_1': use 1-63 of a-z 0-9 - starting with a letter or digit",
    'services/web.yml:2:7: port: must be <= 65535, got 70000',
    'services/web.yml:3:13: proxy_port: must be >= 1024, got 80',
    'services/web.yml:4:11: replicas: must be <= 64, got 65',
    'services/web.yml:5:9: agents: expected mapping, got sequence',
  ]);
});

test('unknown keys are refused with a did-you-mean, at every level', () => {
  const text = `${MINIMAL}imgae: web:1\nhealth:\n  htp: { path: / }\n  interval: 1s\nupdate:\n  max_paralel: 2\n  watch: 1m\nenv:\n  A: { secrte: a }\n`;
  assert.deepEqual(problemLines(parse(text)), [
    "services/web.yml:4:1: unknown key 'imgae' (did you mean 'image'?)",
    "services/web.yml:6:3: health: unknown key 'htp' (did you mean 'http'?)",
    "services/web.yml:9:3: update: unknown key 'max_paralel' (did you mean 'max_parallel'?)",
    "services/web.yml:10:3: update: unknown key 'watch'",
    "services/web.yml:12:3: env.A: missing required key 'secret'",
    "services/web.yml:12:8: env.A: unknown key 'secrte' (did you mean 'secret'?)",
  ]);
});

test('health: http and command together, a path without /, bad durations', () => {
  const text = `${MINIMAL}health:\n  http: { path: health, status: 700 }\n  interval: 0s\n  timeout: 10\n`;
  assert.deepEqual(problemLines(parse(text)), [
    "services/web.yml:5:17: health.http.path: path 'health' must start with / and have no spaces",
    'services/web.yml:5:33: health.http.status: must be <= 599, got 700',
    "services/web.yml:6:13: health.interval: duration '0s' must be greater than 0",
    'services/web.yml:7:12: health.timeout: expected a duration string such as 10m or 1h30m, got number',
  ]);
  assert.deepEqual(problemLines(parse(`${MINIMAL}health:\n  http: { path: /h }\n  command: [check]\n`)), [
    'services/web.yml:6:12: health.command: use either http or command, not both',
  ]);
});

test('update: watch_window may be 0s, nothing may exceed 24h; stop_grace_period must be > 0', () => {
  assert.equal(okOf(parse(`${MINIMAL}update: { watch_window: 0s }\n`)).definition.update.watchWindowMs, 0);
  assert.deepEqual(
    problemLines(
      parse(`${MINIMAL}update: { watch_window: 0, drain_timeout: 25h, max_parallel: 0 }\nstop_grace_period: 0s\n`),
    ),
    [
      'services/web.yml:4:25: update.watch_window: expected a duration string such as 5m, or 0s for none, got number',
      "services/web.yml:4:43: update.drain_timeout: duration '25h' exceeds the maximum of 24h",
      'services/web.yml:4:62: update.max_parallel: must be >= 1, got 0',
      "services/web.yml:5:20: stop_grace_period: duration '0s' must be greater than 0",
    ],
  );
});

test('env: file: true, expressions and bad names are refused; a command must have words', () => {
  const text = `${MINIMAL}env:\n  KEY: { secret: k, file: true }\n  IMAGE: "\${{ stages.build.outputs.image }}"\n  BAD: \${{ secrets.no/slash }}\n  1X: a\ncommand: []\n`;
  assert.deepEqual(problemLines(parse(text)), [
    'services/web.yml:5:27: env.KEY.file: file: true is not supported for a service: a replica gets a secret as an environment variable only',
    "services/web.yml:6:10: env.IMAGE: '${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal",
    "services/web.yml:7:8: env.BAD: invalid secret name 'no/slash' in ${{ secrets.NAME }}: use 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit",
    "services/web.yml:8:3: env.1X: invalid env name '1X': must match ^[A-Za-z_][A-Za-z0-9_]*$",
    'services/web.yml:9:10: command: command must list at least one word',
  ]);
});

test('image: expressions belong in the stage; env_file must stay inside the directory', () => {
  const text = `${MINIMAL}image: "web:\${{ DOCKYARD_RUN_NUMBER }}"\nenv_file: ../secrets.env\n`;
  assert.deepEqual(problemLines(parse(text)), [
    "services/web.yml:4:8: image: a service file is not substituted: set an image with ${{ }} in the update-service stage's image: instead",
    "services/web.yml:5:11: env_file: env_file '../secrets.env' must be a path relative to the service file's directory, without '..' (not absolute)",
  ]);
  assert.match(
    problemLines(parse(`${MINIMAL}env_file: /etc/passwd\n`))[0] ?? '',
    /env_file '\/etc\/passwd' must be a path relative/,
  );
});

test('YAML errors, duplicate keys, an empty file and a top-level sequence', () => {
  assert.deepEqual(problemLines(parse(`${MINIMAL}port: 8081\n`)), ["services/web.yml:4:1: port: duplicate key 'port'"]);
  assert.deepEqual(problemLines(parse('')), [
    "services/web.yml:1:1: file is empty: expected a mapping with 'name', 'port' and 'proxy_port'",
  ]);
  assert.deepEqual(problemLines(parse('- a\n')), ['services/web.yml:1:1: top level must be a mapping, got a sequence']);
  assert.equal(problemLines(parse('name: [web\n')).length > 0, true);
  assert.deepEqual(problemLines(parseServiceFile('name: 1\n')).at(0), "service.yml:1:1: missing required key 'port'");
});

/** Parses hostile input, which must fail within `budgetMs` (a bound against blow-ups, not a speed target). */
function refusedWithin(input: string | Uint8Array, budgetMs: number): string[] {
  const started = performance.now();
  const lines = problemLines(parse(input));
  const elapsed = performance.now() - started;
  assert.ok(elapsed < budgetMs, `took ${elapsed.toFixed(0)}ms (budget ${budgetMs}ms)`);
  return lines;
}

test('hostile input: a huge file, deep nesting, an alias bomb, a key flood', () => {
  assert.equal(SERVICE_FILE_LIMITS.maxBytes, 64 * 1024);
  assert.deepEqual(refusedWithin(`${MINIMAL}# ${'x'.repeat(10_000_000)}\n`, 200), [
    'services/web.yml:1:1: file is at least 10000041 bytes; the limit is 65536 bytes',
  ]);
  assert.deepEqual(refusedWithin(`${MINIMAL}env: ${'['.repeat(10_000)}`, 100), [
    'services/web.yml:4:21: nesting is deeper than 16 levels',
  ]);
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    ...Array.from({ length: 8 }, (_, i) => {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      return `${next}: &${next} [${Array.from({ length: 10 }, () => `*${prev}`).join(',')}]`;
    }),
    MINIMAL,
  ].join('\n');
  assert.deepEqual(refusedWithin(bomb, 1000), [
    'services/web.yml:2:8: aliases expand too much (limit 50); refusing a possible alias bomb',
  ]);
  const flood = `${MINIMAL}env:\n${Array.from({ length: 3000 }, (_, i) => `  K${i}: v`).join('\n')}\n`;
  assert.match(refusedWithin(flood, 1000)[0] ?? '', /more than 2000 keys in the file/);
});

test('invalid UTF-8 is refused with the offset', () => {
  const bytes = new Uint8Array([...new TextEncoder().encode(MINIMAL), 0x23, 0xff, 0x0a]);
  assert.deepEqual(problemLines(parse(bytes)), [
    'services/web.yml:4:2: file is not valid UTF-8 (byte 0xff at offset 39)',
  ]);
});
