import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseComposeTemplate, type ComposeTemplate } from './compose-template.js';
import { parseComposeDuration, splitShellWords } from './compose-values.js';

function ok(value: unknown): ComposeTemplate {
  const r = parseComposeTemplate(value);
  if (!r.ok) assert.fail(`unexpected problems: ${JSON.stringify(r.problems)}`);
  return r.template;
}

function problems(value: unknown): { path: string; message: string }[] {
  const r = parseComposeTemplate(value);
  assert.equal(r.ok, false, 'expected the template to be refused');
  return r.ok ? [] : r.problems;
}

function hasProblem(value: unknown, path: string, re: RegExp): void {
  const ps = problems(value);
  assert.ok(
    ps.some((p) => p.path === path && re.test(p.message)),
    `no problem at ${path} matching ${re}: ${JSON.stringify(ps)}`,
  );
}

describe('parseComposeTemplate', () => {
  it('normalises the whole subset', () => {
    const t = ok(
      parseYaml(
        `
version: "3.9"
x-common: &common { image: dockyard/busybox:1 }
services:
  web:
    <<: *common
    environment: [GREETING=hi=there, EMPTY=]
    env_file: config/web.env
    command: httpd -f -p 8080 -h '/srv/my site'
    ports: ["8080", 9090/udp, 7070]
    volumes: ["site:/srv:ro", "cache:/cache"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 500ms
      timeout: 1m30s
      retries: 5
      start_period: 1.5s
  app:
    image: app:1
    environment: { PORT: 8080, DEBUG: true, NAME: x }
    env_file: [a.env, b.env]
    command: ["sh", "-c", "echo $PORT"]
    healthcheck: { test: "wget -q http://web:8080/" }
    depends_on: { web: { condition: service_healthy }, db: {} }
  db:
    image: db:1
    healthcheck: { disable: true }
  worker:
    image: w:1
    depends_on: [web, db]
volumes:
  site:
  cache: {}
`,
        { merge: true },
      ), // `<<` merge keys are the YAML reader's job (yaml 1.2 needs merge: true)
    );
    assert.deepEqual(Object.keys(t.services), ['web', 'app', 'db', 'worker']);
    assert.deepEqual(t.volumes, ['site', 'cache']);
    assert.deepEqual(t.services.web, {
      image: 'dockyard/busybox:1',
      environment: { GREETING: 'hi=there', EMPTY: '' },
      envFiles: ['config/web.env'],
      command: ['httpd', '-f', '-p', '8080', '-h', '/srv/my site'],
      ports: [
        { port: 8080, protocol: 'tcp' },
        { port: 9090, protocol: 'udp' },
        { port: 7070, protocol: 'tcp' },
      ],
      volumes: [
        { source: 'site', target: '/srv', readOnly: true },
        { source: 'cache', target: '/cache', readOnly: false },
      ],
      healthcheck: {
        test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'],
        intervalMs: 500,
        timeoutMs: 90_000,
        retries: 5,
        startPeriodMs: 1500,
      },
      dependsOn: {},
    });
    assert.deepEqual(t.services.app?.environment, { PORT: '8080', DEBUG: 'true', NAME: 'x' });
    assert.deepEqual(t.services.app?.envFiles, ['a.env', 'b.env']);
    assert.deepEqual(t.services.app?.healthcheck?.test, ['CMD-SHELL', 'wget -q http://web:8080/']);
    assert.deepEqual(t.services.app?.dependsOn, { web: 'service_healthy', db: 'service_started' });
    assert.deepEqual(t.services.db?.healthcheck?.test, ['NONE']);
    assert.deepEqual(t.services.worker?.dependsOn, { web: 'service_started', db: 'service_started' });
    assert.equal(t.services.db?.command, null);
  });

  it('refuses keys outside the subset by JSON path', () => {
    const ps = problems({
      services: {
        db: { image: 'db:1', deploy: { replicas: 2 }, privileged: true, build: '.' },
      },
      networks: { front: {} },
      volumes: { data: { driver: 'local' } },
    });
    const byPath = Object.fromEntries(ps.map((p) => [p.path, p.message]));
    assert.match(byPath['services.db.deploy'] ?? '', /'deploy' is not supported/);
    assert.match(byPath['services.db.privileged'] ?? '', /'privileged' is not supported/);
    assert.match(byPath['services.db.build'] ?? '', /'build' is not supported: build the image/);
    assert.match(byPath.networks ?? '', /'networks' is not supported/);
    assert.match(byPath['volumes.data.driver'] ?? '', /'driver' is not supported/);
  });

  it('refuses host bind mounts, anonymous volumes and host publishing', () => {
    const svc = (extra: object) => ({ services: { web: { image: 'x', ...extra } }, volumes: { data: null } });
    hasProblem(
      svc({ volumes: ['./site:/srv'] }),
      'services.web.volumes[0]',
      /host bind mount '\.\/site' is not supported/,
    );
    hasProblem(svc({ volumes: ['/etc:/etc:ro'] }), 'services.web.volumes[0]', /host bind mount/);
    hasProblem(svc({ volumes: ['/data'] }), 'services.web.volumes[0]', /anonymous volume/);
    hasProblem(svc({ volumes: ['data:/d:z'] }), 'services.web.volumes[0]', /mode 'z' is not supported/);
    hasProblem(
      svc({ volumes: [{ type: 'volume', source: 'data', target: '/d' }] }),
      'services.web.volumes[0]',
      /expected string/,
    );
    hasProblem(svc({ ports: ['8080:80'] }), 'services.web.ports[0]', /publishing to the host/);
    hasProblem(svc({ ports: ['8000-8010'] }), 'services.web.ports[0]', /ranges are not supported/);
    hasProblem(svc({ ports: [70000] }), 'services.web.ports[0]', /out of range/);
  });

  it('reports value errors where they are', () => {
    hasProblem({ services: { web: {} } }, 'services.web.image', /is required/);
    hasProblem({}, 'services', /is required/);
    hasProblem(
      { services: { web: { image: 'x', environment: ['NOVALUE'] } } },
      'services.web.environment[0]',
      /'NOVALUE' has no value/,
    );
    hasProblem(
      { services: { web: { image: 'x', environment: { A: null } } } },
      'services.web.environment.A',
      /has no value/,
    );
    hasProblem(
      { services: { web: { image: 'x', environment: { A: [1] } } } },
      'services.web.environment.A',
      /expected/,
    );
    hasProblem(
      { services: { web: { image: 'x', environment: 'A=1' } } },
      'services.web.environment',
      /expected a mapping or a sequence, got string/,
    );
    hasProblem(
      { services: { web: { image: 'x', env_file: '/etc/passwd' } } },
      'services.web.env_file',
      /relative to the template's directory/,
    );
    hasProblem(
      { services: { web: { image: 'x', env_file: ['../x.env'] } } },
      'services.web.env_file[0]',
      /without '\.\.'/,
    );
    hasProblem({ services: { web: { image: 'x', command: 'echo "hi' } } }, 'services.web.command', /unterminated/);
    hasProblem(
      { services: { web: { image: 'x', healthcheck: { test: ['wget'] } } } },
      'services.web.healthcheck.test',
      /must be \["CMD"/,
    );
    hasProblem(
      { services: { web: { image: 'x', healthcheck: { test: 'true', interval: '5 s' } } } },
      'services.web.healthcheck.interval',
      /invalid duration/,
    );
    hasProblem(
      { services: { web: { image: 'x', healthcheck: { interval: 5 } } } },
      'services.web.healthcheck.interval',
      /duration string/,
    );
    hasProblem(
      { services: { web: { image: 'x', healthcheck: { start_interval: '1s' } } } },
      'services.web.healthcheck.start_interval',
      /not supported/,
    );
    hasProblem(
      {
        services: {
          a: { image: 'x', depends_on: { b: { condition: 'service_completed_successfully' } } },
          b: { image: 'x' },
        },
      },
      'services.a.depends_on.b.condition',
      /service_started, service_healthy/,
    );
    hasProblem({ services: { '-bad': { image: 'x' } } }, 'services.-bad', /invalid service name/);
    hasProblem({ services: {} }, 'services', /at least one service/);
    hasProblem('services: {}', '', /expected/);
  });

  it('checks dependencies and volume declarations', () => {
    hasProblem(
      { services: { a: { image: 'x', depends_on: ['ghost'] } } },
      'services.a.depends_on[0]',
      /unknown service 'ghost'/,
    );
    hasProblem(
      { services: { a: { image: 'x', depends_on: { ghost: {} } } } },
      'services.a.depends_on.ghost',
      /unknown service/,
    );
    hasProblem(
      {
        services: {
          a: { image: 'x', depends_on: ['b'] },
          b: { image: 'x', depends_on: ['c'] },
          c: { image: 'x', depends_on: ['a'] },
        },
      },
      'services.c.depends_on',
      /dependency cycle: a -> b -> c -> a/,
    );
    hasProblem({ services: { a: { image: 'x', depends_on: ['a'] } } }, 'services.a.depends_on', /cycle: a -> a/);
    hasProblem(
      { services: { a: { image: 'x', volumes: ['data:/d'] } } },
      'services.a.volumes[0]',
      /'data' is not declared/,
    );
  });
});

describe('compose values', () => {
  it('parses Go-style durations', () => {
    assert.deepEqual(parseComposeDuration('1m30s'), { ok: true, value: 90_000 });
    assert.deepEqual(parseComposeDuration('1h'), { ok: true, value: 3_600_000 });
    assert.deepEqual(parseComposeDuration('0s'), { ok: true, value: 0 });
    assert.equal(parseComposeDuration('10us').ok, false);
    assert.equal(parseComposeDuration('10').ok, false);
  });

  it('splits shell words without expanding them', () => {
    assert.deepEqual(splitShellWords(`sh -c "echo \\"a b\\" $HOME" 'x y' z\\ w`), {
      ok: true,
      value: ['sh', '-c', 'echo "a b" $HOME', 'x y', 'z w'],
    });
    assert.deepEqual(splitShellWords(`a '' b`), { ok: true, value: ['a', '', 'b'] });
  });
});
