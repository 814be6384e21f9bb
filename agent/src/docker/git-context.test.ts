// checkoutGit against real repositories: a local one over file://, and a local HTTP server
// that never answers (timeout) for the http(s) path and the credential redaction.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { checkoutGit, GitContextError } from './git-context';
import { makeDir } from './image-build.fixtures';
import { tempDir } from '@dockyard/testkit';

const dirs: string[] = [];
let repo: string;
let shas: { one: string; two: string };
const git = (...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { cwd: repo })
    .toString()
    .trim();

async function dest(): Promise<string> {
  const d = tempDir('co');
  dirs.push(d);
  return d;
}

before(async () => {
  repo = await makeDir({ 'v.txt': 'one\n' });
  dirs.push(repo);
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('commit', '-q', '-m', 'one');
  git('tag', '-a', 'v1', '-m', 'release one'); // annotated: must resolve to the commit
  await writeFile(path.join(repo, 'v.txt'), 'two\n');
  git('commit', '-q', '-am', 'two');
  git('branch', 'feature/x');
  shas = { one: git('rev-parse', 'HEAD~1'), two: git('rev-parse', 'HEAD') };
});
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

for (const [ref, want, file] of [
  ['main', 'two', 'two\n'],
  ['feature/x', 'two', 'two\n'],
  ['v1', 'one', 'one\n'],
  ['<sha one>', 'one', 'one\n'],
  ['<short sha one>', 'one', 'one\n'],
] as const) {
  test(`checks out ${ref}`, async () => {
    const d = await dest();
    const r = ref === '<sha one>' ? shas.one : ref === '<short sha one>' ? shas.one.slice(0, 8) : ref;
    const { commit } = await checkoutGit(`file://${repo}`, r, d);
    assert.equal(commit, shas[want]);
    assert.equal(readFileSync(path.join(d, 'v.txt'), 'utf8'), file);
    assert.equal(existsSync(path.join(d, '.git')), false, '.git is left out of the context');
  });
}

test('a branch checkout is shallow', async () => {
  const d = await dest();
  await checkoutGit(`file://${repo}`, 'main', d, undefined, { keepGitDir: true });
  assert.equal(execFileSync('git', ['rev-list', '--count', 'HEAD'], { cwd: d }).toString().trim(), '1');
});

test('an unknown ref is named', async () => {
  await assert.rejects(checkoutGit(`file://${repo}`, 'nosuch', await dest()), (err: unknown) => {
    assert.ok(err instanceof GitContextError && err.code === 'ref_not_found');
    assert.equal(err.message, `ref 'nosuch' was not found in file://${repo} (no such branch, tag or commit)`);
    return true;
  });
});

test("a URL that is not a repository is named, with git's reason", async () => {
  await assert.rejects(checkoutGit('file:///nonexistent/repo.git', 'main', await dest()), (err: unknown) => {
    assert.ok(err instanceof GitContextError && err.code === 'fetch_failed');
    assert.match(
      err.message,
      /^fetching from file:\/\/\/nonexistent\/repo\.git failed: .*does not appear to be a git repository/,
    );
    return true;
  });
  await assert.rejects(checkoutGit('ssh://host/x', 'main', await dest()), /git url 'ssh:\/\/host\/x' is not supported/);
});

httpTests();
function httpTests() {
  let server: Server;
  let port: number;
  before(async () => {
    // Accepts and never answers: a hung server, which only the timeout ends.
    server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('a hung server ends in a timeout, and credentials never appear', async () => {
    const url = `http://alice:hunter2-token@127.0.0.1:${port}/repo.git`;
    const t0 = performance.now();
    await assert.rejects(checkoutGit(url, 'main', await dest(), undefined, { timeoutMs: 700 }), (err: unknown) => {
      assert.ok(err instanceof GitContextError && err.code === 'timeout');
      assert.equal(err.message, `checkout of http://***@127.0.0.1:${port}/repo.git did not finish within 1 s`);
      assert.doesNotMatch(String(err.stack), /hunter2/);
      return true;
    });
    assert.ok(performance.now() - t0 < 5000);
  });

  test('a refused connection is a fetch error without the password', async () => {
    const url = 'https://bob:pa55word@127.0.0.1:1/repo.git';
    await assert.rejects(checkoutGit(url, 'main', await dest()), (err: unknown) => {
      assert.ok(err instanceof GitContextError && err.code === 'fetch_failed');
      assert.match(
        err.message,
        /^fetching from https:\/\/\*\*\*@127\.0\.0\.1:1\/repo\.git failed: .*(refused|connect)/i,
      );
      assert.doesNotMatch(err.message, /pa55word/);
      return true;
    });
  });

  test('aborting the signal kills git', async () => {
    const ac = new AbortController();
    const p = checkoutGit(`http://127.0.0.1:${port}/repo.git`, 'main', await dest(), ac.signal);
    setImmediate(() => ac.abort());
    await assert.rejects(p, (err: unknown) => err instanceof GitContextError && err.code === 'canceled');
  });
}
