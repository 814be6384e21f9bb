// BuildKit builds on the real engine (DOCKER_HOST, started by scripts/docker/start-dockerd.sh):
// a multi-stage Dockerfile with a target, build args, a cache mount, a secret mount, a
// .dockerignore, a one-file rebuild, and a build from a git checkout.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { dockerFromEnv } from '../executor/docker-client';
import { packContext } from './context-tar';
import { checkoutGit } from './git-context';
import { buildImage, type BuildImageOptions } from './image-build';
import { cleanedUp, imageContents, makeDir } from './image-build.fixtures';
import { tempDir } from '@dockyard/testkit';

const docker = dockerFromEnv();
const run = randomUUID().slice(0, 8); // fresh build arg and cache id: every run starts cold
const SECRET = `s3cret-${randomUUID()}`;
const { tags, dirs } = cleanedUp(docker);

const DOCKERFILE = `FROM dockyard/busybox:1 AS base
ARG GREETING=hello
RUN mkdir -p /out && echo "$GREETING" > /out/greeting

FROM base AS build
COPY src/ /src/
RUN --mount=type=cache,id=dy-test-${run},target=/cache \\
    if [ -f /cache/stamp ]; then echo "cache hit $(cat /cache/stamp)"; else echo "cache miss"; fi; \\
    echo "$(date +%s)" > /cache/stamp; cat /src/*.txt > /out/app.txt
RUN --mount=type=secret,id=token \\
    sha256sum /run/secrets/token | cut -d' ' -f1 > /out/token.sha && echo "token is $(cat /run/secrets/token)"

FROM dockyard/busybox:1 AS final
COPY --from=build /out /out
COPY src/ /src/
CMD ["cat", "/out/app.txt"]

FROM final AS debug
RUN echo debug-only > /debug
`;

async function build(dir: string, extra: Partial<BuildImageOptions> = {}) {
  const lines: string[] = [];
  const tag = `dockyard-test/build-${run}:${tags.length}`;
  tags.push(tag);
  const t0 = performance.now();
  const result = await buildImage(docker, {
    context: packContext(dir),
    tags: [tag],
    onLine: (l) => lines.push(l),
    ...extra,
  });
  return { result, lines, ms: Math.round(performance.now() - t0), output: lines.join('\n') };
}

before(async () => {
  await docker.ping().catch((err: Error) => {
    throw new Error(`no Docker engine at DOCKER_HOST (run scripts/docker/start-dockerd.sh): ${err.message}`);
  });
});

describe('buildImage with BuildKit', () => {
  let dir: string;
  let first: Awaited<ReturnType<typeof build>>;

  before(async () => {
    dir = await makeDir({
      Dockerfile: DOCKERFILE,
      '.dockerignore': '*.md\nsrc/*.log\n!src/keep.log\n',
      'src/a.txt': 'alpha\n',
      'src/b.txt': 'beta\n',
      'src/debug.log': 'ignored\n',
      'src/keep.log': 'kept by an exception\n',
      'NOTES.md': 'not in the context\n',
    });
    dirs.push(dir);
    first = await build(dir, { target: 'final', buildArgs: { GREETING: `hi-${run}` }, secrets: { token: SECRET } });
  });

  test('multi-stage build with a target and build args', async (t) => {
    t.diagnostic(`cold multi-stage build: ${first.ms} ms`);
    assert.equal(first.result.builder, 'buildkit');
    assert.match(first.result.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.ok(first.result.sizeBytes > 1_000_000, `size ${first.result.sizeBytes}`);
    assert.ok(first.result.layers >= 3, `layers ${first.result.layers}`);
    const { files } = await imageContents(docker, first.result.imageId);
    assert.equal(files.get('out/greeting')?.toString(), `hi-${run}\n`);
    assert.equal(files.get('out/app.txt')?.toString(), 'alpha\nbeta\n');
    assert.equal(files.has('debug'), false, 'the debug stage is past the target');
    assert.doesNotMatch(first.output, /debug-only/);
    assert.match(first.output, /^#\d+ \[build 1\/3\] COPY src\/ \/src\/$/m);
    assert.match(first.output, /^#\d+ cache miss$/m);
  });

  test('.dockerignore: ignored files are absent, exceptions present', async () => {
    const { files } = await imageContents(docker, first.result.imageId);
    assert.equal(files.get('src/keep.log')?.toString(), 'kept by an exception\n');
    assert.equal(files.has('src/debug.log'), false);
    assert.equal(files.has('src/a.txt'), true);
  });

  test('secret mount: readable in RUN, absent from every layer and from the output', async () => {
    const want = createHash('sha256').update(SECRET).digest('hex');
    const finalImage = await imageContents(docker, first.result.imageId);
    assert.equal(finalImage.files.get('out/token.sha')?.toString().trim(), want, 'the RUN step read the secret');
    // The stage that ran the secret mount, exported as an image of its own (all cached).
    const buildStage = await build(dir, {
      target: 'build',
      buildArgs: { GREETING: `hi-${run}` },
      secrets: { token: SECRET },
    });
    for (const img of [finalImage, await imageContents(docker, buildStage.result.imageId)]) {
      assert.equal(img.raw.includes(SECRET), false, 'secret bytes found in the saved image');
    }
    assert.equal(first.output.includes(SECRET), false, 'secret in the build output');
    assert.match(first.output, /token is \*\*\*/, 'the echoed secret is masked');
  });

  test('rebuild after a one-file change: earlier steps CACHED, cache mount reused', async (t) => {
    await writeFile(path.join(dir, 'src/b.txt'), 'beta two\n');
    const second = await build(dir, {
      target: 'final',
      buildArgs: { GREETING: `hi-${run}` },
      secrets: { token: SECRET },
    });
    t.diagnostic(`rebuild after a one-line change: ${second.ms} ms (cold was ${first.ms} ms)`);
    const cached = /^#(\d+) CACHED \[base 2\/2\] RUN mkdir -p \/out/m.exec(second.output);
    assert.ok(cached, `the unchanged base step is not CACHED:\n${second.output}`);
    // BuildKit may announce a step before its cache check answers (buildx prints the same
    // "#5 [base 2/2] …" then "#5 CACHED"); a step that ran again ends in DONE instead.
    assert.doesNotMatch(second.output, new RegExp(`^#${cached[1]} DONE`, 'm'), 'the unchanged base step ran again');
    const ran = /^#(\d+) \[base 2\/2\] RUN mkdir -p \/out/m.exec(first.output);
    assert.match(first.output, new RegExp(`^#${ran?.[1]} DONE`, 'm'), 'control: the cold build shows the step ran');
    assert.match(second.output, /^#\d+ cache hit \d+$/m, 'the RUN saw the cache mount of the first build');
    const { files } = await imageContents(docker, second.result.imageId);
    assert.equal(files.get('out/app.txt')?.toString(), 'alpha\nbeta two\n');
    assert.notEqual(second.result.imageId, first.result.imageId);
  });
});

describe('buildImage from a git checkout', () => {
  let repo: string;
  let commits: string[];
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: repo })
      .toString()
      .trim();

  before(async () => {
    repo = await makeDir({
      Dockerfile: 'FROM dockyard/busybox:1\nCOPY version.txt /version.txt\n',
      'version.txt': 'one\n',
    });
    dirs.push(repo);
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    await writeFile(path.join(repo, 'version.txt'), 'two\n');
    git('commit', '-q', '-am', 'two');
    commits = [git('rev-parse', 'HEAD~1'), git('rev-parse', 'HEAD')];
  });

  for (const [label, ref, index, want] of [
    ['branch', 'main', 1, 'two\n'],
    ['commit sha', 'first', 0, 'one\n'],
  ] as const) {
    test(`at a ${label}`, async () => {
      const dest = tempDir('git');
      dirs.push(dest);
      const r = ref === 'first' ? commits[0]! : ref;
      const { commit } = await checkoutGit(`file://${repo}`, r, dest);
      assert.equal(commit, commits[index]);
      const { result } = await build(dest);
      const { files } = await imageContents(docker, result.imageId);
      assert.equal(files.get('version.txt')?.toString(), want);
    });
  }
});
