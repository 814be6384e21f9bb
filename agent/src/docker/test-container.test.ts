import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type Dockerode from 'dockerode';
import { BASE_IMAGE } from '../executor/docker-client.js';
import { connectEngine, siteDir, SITE_TEXT, testLabels, uniq, WEB_ONLY, WEB_PORT } from './environment-fixtures.js';
import { downEnvironment, isEnvironmentError, upEnvironment, type Environment } from './environment.js';
import { runTestContainer, type TestContainerOptions } from './test-container.js';

const suffix = uniq();
const envId = `env-tc-${suffix}`;
const labels = { 'dockyard.test-container': suffix };
let docker: Dockerode;
let seed: string;
let env: Environment;

const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="app">
  <testsuite name="api" tests="4">
    <testcase classname="api" name="lists items"/>
    <testcase classname="api" name="creates an item"></testcase>
    <testcase classname="api" name="rejects bad input"><failure message="expected 400, got 500">trace</failure></testcase>
    <testcase classname="api" name="talks to db"><error message="connection refused"/></testcase>
  </testsuite>
  <testsuite name="ui">
    <testsuite name="nested">
      <testcase name="renders"/>
      <testcase name="later"><skipped/></testcase>
    </testsuite>
  </testsuite>
</testsuites>`;

/** Runs one container and gathers what it wrote, per stream. */
async function run(opts: Partial<TestContainerOptions>) {
  const out = { stdout: '', stderr: '' };
  const problems: string[] = [];
  const result = await runTestContainer(docker, {
    image: BASE_IMAGE,
    labels,
    onOutput: (stream, data) => {
      out[stream] += data.toString('utf8');
    },
    onProblem: (line) => problems.push(line),
    ...opts,
  });
  return { result, out, problems };
}

before(async () => {
  docker = await connectEngine();
  seed = await siteDir();
  env = await upEnvironment(docker, {
    envId,
    project: envId,
    template: WEB_ONLY,
    seeds: { site: seed },
    labels: testLabels(`agent-${suffix}`),
  });
});

after(async () => {
  await downEnvironment(docker, envId);
  await rm(seed, { recursive: true, force: true });
  const left = await docker.listContainers({ all: true, filters: { label: [`dockyard.test-container=${suffix}`] } });
  assert.deepEqual(
    left.map((c) => c.Names[0]),
    [],
    'every test container was removed',
  );
});

describe('runTestContainer', () => {
  it('reaches a service by name on the environment network and exits 0', async (t) => {
    const t0 = Date.now();
    const { result, out } = await run({
      network: env.network,
      command: ['wget', '-q', '-O', '-', `http://web:${WEB_PORT}/`],
    });
    t.diagnostic(`(timing) test container create to removed: ${Date.now() - t0} ms`);
    assert.equal(result.exitCode, 0, out.stderr);
    assert.equal(out.stdout.trim(), SITE_TEXT);
    assert.equal(result.junit, undefined);
  });

  it('returns a failing exit code and the JUnit counts, stdout and stderr apart', async () => {
    const { result, out, problems } = await run({
      network: env.network,
      env: { REPORT },
      command: [
        'sh',
        '-c',
        'mkdir -p /out && printf "%s" "$REPORT" > /out/junit.xml; echo ran 6 tests; echo 1 failed >&2; exit 1',
      ],
      junitPath: '/out/junit.xml',
    });
    assert.equal(result.exitCode, 1);
    assert.deepEqual(result.junit, { passed: 3, failed: 1, skipped: 1, errors: 1, total: 6 });
    assert.equal(out.stdout, 'ran 6 tests\n');
    assert.equal(out.stderr, '1 failed\n');
    assert.deepEqual(problems, []);
  });

  it('a missing report is a problem line, not a crash', async () => {
    const { result, problems } = await run({ command: ['true'], junitPath: '/out/junit.xml' });
    assert.equal(result.exitCode, 0);
    assert.equal(result.junit, undefined);
    assert.deepEqual(problems, ['no JUnit report: /out/junit.xml does not exist in the container']);
    assert.deepEqual(result.problems, problems);
  });

  it('sums every .xml under a report directory and names an unreadable one', async () => {
    const { result, problems } = await run({
      env: { REPORT },
      command: [
        'sh',
        '-c',
        'mkdir -p /out/sub && printf "%s" "$REPORT" > /out/a.xml && printf "%s" "$REPORT" > /out/sub/b.xml && echo "<testsuite" > /out/bad.xml && echo x > /out/notes.txt',
      ],
      junitPath: '/out',
    });
    assert.equal(result.exitCode, 0);
    assert.deepEqual(result.junit, { passed: 6, failed: 2, skipped: 2, errors: 2, total: 12 });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /JUnit report out\/bad\.xml unreadable: not well-formed XML/);
  });

  it('kills a container that runs past its timeout', async () => {
    await assert.rejects(run({ command: ['sh', '-c', 'echo started; exec sleep 3600'], timeoutMs: 1000 }), (err) => {
      assert.ok(isEnvironmentError(err, 'timeout'), String(err));
      assert.match(err.message, /ran longer than 1000 ms and was killed/);
      assert.match(err.message, /started/);
      return true;
    });
  });

  it('aborts on the signal', async () => {
    const ac = new AbortController();
    const running = run({
      command: ['sh', '-c', 'echo ready; exec sleep 3600'],
      signal: ac.signal,
      onOutput: () => ac.abort(),
    });
    await assert.rejects(running, (err) => isEnvironmentError(err, 'aborted'));
  });

  it('a missing image is an image_missing error', async () => {
    await assert.rejects(run({ image: 'dockyard/no-such-image:0' }), (err) => isEnvironmentError(err, 'image_missing'));
  });
});
