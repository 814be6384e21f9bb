// What a user sees when a build fails, on the real engine: each builder error mapped to a
// BuildError code and a message that names the problem; cancellation; the classic builder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { dockerFromEnv } from '../executor/docker-client';
import { BuildError } from './build-error';
import { packContext } from './context-tar';
import { buildImage, type BuildImageOptions } from './image-build';
import { cleanedUp, makeDir } from './image-build.fixtures';

const docker = dockerFromEnv();
const run = randomUUID().slice(0, 8);
const { tags, dirs } = cleanedUp(docker);

async function buildFails(
  dockerfile: string,
  extra: Partial<BuildImageOptions> = {},
): Promise<{ err: BuildError; output: string }> {
  const dir = await makeDir({ Dockerfile: dockerfile });
  dirs.push(dir);
  const lines: string[] = [];
  const tag = `dockyard-test/fail-${run}:${tags.length}`;
  tags.push(tag);
  const err = await buildImage(docker, {
    context: packContext(dir),
    tags: [tag],
    onLine: (l) => lines.push(l),
    ...extra,
  }).then(
    () => assert.fail('the build succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BuildError, `not a BuildError: ${String(err)}`);
  return { err, output: lines.join('\n') };
}

describe('buildImage errors (BuildKit)', () => {
  test('a failing RUN names the step and its exit code', async () => {
    const { err, output } = await buildFails('FROM dockyard/busybox:1\nRUN echo compiling && exit 3\n');
    assert.equal(err.code, 'build_failed');
    assert.match(
      err.message,
      /^step '\[2\/2\] RUN echo compiling && exit 3' failed with exit code 3: executor failed running/,
    );
    assert.match(output, /^#\d+ compiling$/m, 'the step output reached onLine');
    assert.match(output, /^#\d+ ERROR \[2\/2\] RUN echo compiling && exit 3: /m);
  });

  test('an unknown instruction is an invalid Dockerfile, with its line', async () => {
    const { err } = await buildFails('FROM dockyard/busybox:1\nCOPPY a b\n');
    assert.equal(err.code, 'dockerfile_invalid');
    assert.equal(err.message, 'the Dockerfile is invalid: dockerfile parse error line 2: unknown instruction: COPPY');
  });

  test('a # syntax= directive is refused with a reason', async () => {
    const { err } = await buildFails('# syntax=docker/dockerfile:1.4\nFROM dockyard/busybox:1\n');
    assert.equal(err.code, 'dockerfile_invalid');
    assert.match(
      err.message,
      /^the Dockerfile's '# syntax=docker\/dockerfile:1\.4' directive asks for an external frontend image, which the engine's built-in Dockerfile frontend does not support .*remove that line/,
    );
  });

  test('a missing base image is named as the user wrote it', async () => {
    const { err } = await buildFails('FROM nosuch/base:1\nRUN true\n');
    assert.equal(err.code, 'base_image_missing');
    assert.match(err.message, /^base image 'nosuch\/base:1' is neither local nor in a reachable registry: .+/);
    assert.ok(err.builderMessage.length > 0);
  });

  test('aborting the signal cancels the running step', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const { err } = await buildFails('FROM dockyard/busybox:1\nRUN echo started && sleep 47\n', {
      signal: ac.signal,
      onLine: (l) => {
        if (/^#\d+ started$/.test(l)) ac.abort(); // the RUN is running now
      },
    });
    assert.equal(err.code, 'canceled');
    assert.ok(performance.now() - t0 < 20_000, 'returned long before the sleep would end');
    // The step's process goes away on the engine too (poll with a deadline).
    const deadline = Date.now() + 10_000;
    const sleeping = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').includes('sleep 47');
    while (sleeping()) {
      assert.ok(Date.now() < deadline, 'the RUN step still runs 10 s after the cancel');
      await new Promise((r) => setTimeout(r, 50)); // poll interval, not a wait for an outcome
    }
  });

  test('an already aborted signal builds nothing', async () => {
    const { err } = await buildFails('FROM dockyard/busybox:1\n', { signal: AbortSignal.abort() });
    assert.equal(err.code, 'canceled');
  });
});

describe('buildImage with the classic builder', () => {
  test('builds and reports builder classic', async () => {
    const dir = await makeDir({ Dockerfile: `FROM dockyard/busybox:1\nRUN echo classic-${run} > /x\n` });
    dirs.push(dir);
    const tag = `dockyard-test/classic-${run}:1`;
    tags.push(tag);
    const lines: string[] = [];
    const r = await buildImage(docker, {
      context: packContext(dir),
      tags: [tag],
      builder: 'classic',
      onLine: (l) => lines.push(l),
    });
    assert.equal(r.builder, 'classic');
    assert.equal((await docker.getImage(tag).inspect()).Id, r.imageId);
    assert.ok(lines.includes('Step 2/2 : RUN echo classic-' + run + ' > /x'), lines.join('\n'));
  });

  test('errors map the same way', async () => {
    const failing = await buildFails('FROM dockyard/busybox:1\nRUN exit 4\n', { builder: 'classic' });
    assert.equal(failing.err.code, 'build_failed');
    assert.match(failing.err.message, /^step '\[2\/2\] RUN exit 4' failed with exit code 4: /);
    const parse = await buildFails('FROM dockyard/busybox:1\nCOPPY a b\n', { builder: 'classic' });
    assert.equal(
      parse.err.message,
      'the Dockerfile is invalid: dockerfile parse error line 2: unknown instruction: COPPY',
    );
    const base = await buildFails('FROM nosuch/base:1\n', { builder: 'classic' });
    assert.equal(base.err.code, 'base_image_missing');
    assert.match(base.err.message, /^base image 'nosuch\/base:1' is neither local nor in a reachable registry: /);
  });

  test('secrets are refused rather than dropped', async () => {
    const { err } = await buildFails('FROM dockyard/busybox:1\n', {
      builder: 'classic',
      secrets: { token: 'x'.repeat(12) },
    });
    assert.equal(err.code, 'build_failed');
    assert.match(err.message, /classic builder cannot pass build secrets/);
  });
});
