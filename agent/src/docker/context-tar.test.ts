// packContext on real directories: Docker's .dockerignore semantics, forced files, symlinks,
// owners and the size cap. The expectations are what `docker build` sends for the same tree.
import assert from 'node:assert/strict';
import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { after, test } from 'node:test';
import { ContextError, contextSize, packContext } from './context-tar';
import { makeDir, readTar } from './image-build.fixtures';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function packed(files: Record<string, string>, opts?: Parameters<typeof packContext>[1]) {
  const dir = await makeDir(files);
  dirs.push(dir);
  return { dir, entries: await readTar(packContext(dir, opts)) };
}

test('.dockerignore patterns, ** and ! exceptions follow Docker', async () => {
  const { entries } = await packed({
    Dockerfile: 'FROM scratch\n',
    '.dockerignore': [
      '# comment',
      'node_modules',
      '**/*.log',
      '!important.log',
      'build/',
      '!build/keep/**',
      '/secret.txt',
      'docs/*.md',
      '!docs/README.md',
    ].join('\n'),
    'node_modules/x/index.js': '',
    'app.log': '',
    'important.log': 'kept\n',
    'deep/er/trace.log': '',
    'build/out.bin': '',
    'build/keep/a.txt': 'a',
    'secret.txt': 's',
    'sub/secret.txt': 'not anchored at root: kept',
    'docs/guide.md': '',
    'docs/README.md': 'r',
    'src/main.ts': 'code',
    'Src/Other.LOG': 'case-sensitive: kept',
  });
  const names = [...entries.keys()].filter((n) => entries.get(n)!.type === 'file').sort();
  assert.deepEqual(names, [
    '.dockerignore',
    'Dockerfile',
    'Src/Other.LOG',
    'build/keep/a.txt',
    'docs/README.md',
    'important.log',
    'src/main.ts',
    'sub/secret.txt',
  ]);
  assert.equal(entries.has('build'), false, 'an excluded dir walked for an exception is not itself sent');
  assert.equal(entries.get('src/main.ts')!.data.toString(), 'code');
});

test('the Dockerfile and .dockerignore are sent even when ignored', async () => {
  const { entries } = await packed(
    { 'ci/build.Dockerfile': 'FROM scratch\n', '.dockerignore': '*\n', 'a.txt': '' },
    { dockerfile: 'ci/build.Dockerfile' },
  );
  assert.deepEqual([...entries.keys()].sort(), ['.dockerignore', 'ci/build.Dockerfile']);
});

test('symlinks are stored as links, never followed; owners are root', async () => {
  const dir = await makeDir({ Dockerfile: 'FROM scratch\n', 'real/f.txt': 'inside' });
  dirs.push(dir);
  await symlink('/etc', path.join(dir, 'etc-link'));
  await symlink('../../../../etc/passwd', path.join(dir, 'escape'));
  await symlink('real', path.join(dir, 'dir-link'));
  const entries = await readTar(packContext(dir));
  assert.equal(entries.get('etc-link')?.type, 'symlink');
  assert.equal(entries.get('etc-link')?.linkname, '/etc');
  assert.equal(entries.get('escape')?.linkname, '../../../../etc/passwd');
  assert.equal(entries.get('escape')?.data.length, 0);
  assert.ok(
    ![...entries.keys()].some((n) => n.startsWith('etc-link/') || n.startsWith('dir-link/')),
    'a linked dir was walked',
  );
  assert.ok([...entries.values()].every((e) => e.uid === 0));
});

test('a context over the cap is a clear error, before anything is sent', async () => {
  const dir = await makeDir({ Dockerfile: 'FROM scratch\n', 'big.bin': 'x'.repeat(4096) });
  dirs.push(dir);
  assert.deepEqual(await contextSize(dir), { bytes: 4096 + 13, entries: 2 });
  await assert.rejects(contextSize(dir, { maxBytes: 1024 }), (err: unknown) => {
    assert.ok(err instanceof ContextError && err.code === 'too_large');
    assert.match(err.message, /^build context '.+' is over the 1024 bytes limit .*\.dockerignore/);
    return true;
  });
  await assert.rejects(readTar(packContext(dir, { maxBytes: 1024 })), /over the 1024 bytes limit/);
});

test('a missing directory is named', async () => {
  await assert.rejects(readTar(packContext('/nonexistent/ctx')), /build context '\/nonexistent\/ctx' does not exist/);
  const dir = await makeDir({});
  dirs.push(dir);
  await mkdir(path.join(dir, 'empty'));
  assert.deepEqual([...(await readTar(packContext(path.join(dir, 'empty')))).keys()], []);
});
