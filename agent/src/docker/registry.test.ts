// Push on engine A, pull on engine B, through the real private registry (scripts/setup.sh
// starts all three), and the failures a user would see: wrong password, no password,
// unreachable registry, refused push, missing image.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import {
  buildTinyImage,
  deleteManifest,
  engine,
  REGISTRY,
  registryLogin,
  removeImages,
  startReadOnlyRegistry,
} from './registry-fixtures.js';
import { ensureImage, isRegistryError, pushImage, RegistryError, tagImage, type RegistryAuth } from './registry.js';

const run = randomUUID().slice(0, 8);
const repoPath = `dockyard-test/registry-${run}`;
const REF = `${REGISTRY}/${repoPath}:1`;
const LOCAL = `dockyard-test/registry-src:${run}`;

/** Runs `fn`, which must throw a RegistryError, and returns it. */
async function registryError(fn: () => Promise<unknown>): Promise<RegistryError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(isRegistryError(err), `expected a RegistryError, got ${(err as Error)?.stack ?? String(err)}`);
    return err;
  }
  assert.fail('expected a RegistryError, but the call succeeded');
}

describe('registry tools (push on engine A, pull on engine B)', () => {
  let a: Docker;
  let b: Docker;
  let auth: RegistryAuth;
  let imageId: string;
  let pushedDigest: string | undefined;
  const toRemove = { a: [LOCAL, REF] as string[], b: [REF] as string[] };

  before(async () => {
    [a, b] = await Promise.all([engine('A'), engine('B')]);
    const login = await registryLogin();
    auth = { server: REGISTRY, ...login };
    const t0 = Date.now();
    imageId = await buildTinyImage(a, LOCAL, `hello from run ${run}\n`);
    console.log(`# built ${LOCAL} in ${Date.now() - t0} ms`);
  });

  after(async () => {
    await removeImages(a, toRemove.a);
    await removeImages(b, toRemove.b);
    if (pushedDigest)
      await deleteManifest(repoPath, pushedDigest, { username: auth.username!, password: auth.password! });
  });

  it('pushes from A with the right login, then B pulls exactly that image', async () => {
    await tagImage(a, LOCAL, REF);
    const pushLines: string[] = [];
    let t0 = Date.now();
    const pushed = await pushImage(a, REF, auth, (l) => pushLines.push(l));
    console.log(`# push ${Date.now() - t0} ms, ${pushLines.length} lines`);
    pushedDigest = pushed.digest;
    assert.match(pushed.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(pushed.sizeBytes, (await a.getImage(REF).inspect()).Size);
    assert.ok(pushed.sizeBytes > 1_000_000, `busybox alone is ~2 MB, got ${pushed.sizeBytes}`);
    assert.ok(
      pushLines.some((l) => l.startsWith('The push refers to repository')),
      pushLines.join('\n'),
    );
    assert.ok(
      pushLines.some((l) => /: (Pushed|Layer already exists)$/.test(l)),
      pushLines.join('\n'),
    );
    // Compact: one line per layer status, never the same status twice for a layer.
    assert.equal(new Set(pushLines).size, pushLines.length, pushLines.join('\n'));
    assert.ok(pushLines.every((l) => !l.includes(auth.password!)));

    await assert.rejects(
      b.getImage(REF).inspect(),
      (err: { statusCode?: number }) => err.statusCode === 404,
      'engine B must not have the image before the pull',
    );
    const pullLines: string[] = [];
    t0 = Date.now();
    assert.deepEqual(await ensureImage(b, REF, auth, (l) => pullLines.push(l)), { pulled: true });
    console.log(`# pull ${Date.now() - t0} ms, ${pullLines.length} lines`);
    assert.ok(
      pullLines.some((l) => l.endsWith(': Pull complete')),
      pullLines.join('\n'),
    );
    assert.ok(
      pullLines.some((l) => l === `Digest: ${pushed.digest}`),
      pullLines.join('\n'),
    );
    assert.equal(new Set(pullLines).size, pullLines.length, pullLines.join('\n'));
    const onB = await b.getImage(REF).inspect();
    assert.equal(onB.Id, imageId, 'B has the same image (same config digest) as A built');
    assert.ok(onB.RepoDigests.includes(`${REGISTRY}/${repoPath}@${pushed.digest}`), onB.RepoDigests.join(', '));

    // Present now: no registry traffic at all, so even no credentials is fine.
    const again: string[] = [];
    assert.deepEqual(await ensureImage(b, REF, null, (l) => again.push(l)), { pulled: false });
    assert.deepEqual(again, []);
  });

  it('a wrong password fails push and pull as auth_failed, without showing the password', async () => {
    const bad: RegistryAuth = { server: REGISTRY, username: 'dockyard', password: `wrong-${run}` };
    await tagImage(a, LOCAL, REF);
    const push = await registryError(() => pushImage(a, REF, bad, () => {}));
    assert.equal(push.code, 'auth_failed');
    assert.equal(
      push.message,
      `push of ${REF} failed: wrong username or password for ${REGISTRY} (unauthorized: authentication required)`,
    );

    await removeImages(b, [REF]);
    const pull = await registryError(() => ensureImage(b, REF, bad, () => {}));
    assert.equal(pull.code, 'auth_failed');
    assert.equal(
      pull.message,
      `pull of ${REF} failed: wrong username or password for ${REGISTRY} (unauthorized: authentication required)`,
    );
    for (const err of [push, pull])
      assert.ok(!JSON.stringify({ m: err.message, c: String(err.cause) }).includes(bad.password!));
  });

  it('no credentials for a registry that needs them is auth_failed, saying none were given', async () => {
    const push = await registryError(() => pushImage(a, REF, { server: REGISTRY }, () => {}));
    assert.equal(push.code, 'auth_failed');
    assert.equal(
      push.message,
      `push of ${REF} failed: ${REGISTRY} needs a username and password and none were given (no basic auth credentials)`,
    );

    await removeImages(b, [REF]);
    const pull = await registryError(() => ensureImage(b, REF, null, () => {}));
    assert.equal(pull.code, 'auth_failed');
    assert.match(
      pull.message,
      new RegExp(
        `^pull of ${esc(REF)} failed: ${esc(REGISTRY)} needs a username and password and none were given \\(.*no basic auth credentials\\)$`,
      ),
    );
  });

  it('a closed port is unreachable, on push and on pull', async () => {
    const closed = '127.0.0.1:5999';
    const ref = `${closed}/${repoPath}:1`;
    toRemove.a.push(ref);
    await tagImage(a, LOCAL, ref);
    const push = await registryError(() => pushImage(a, ref, { ...auth, server: closed }, () => {}));
    assert.equal(push.code, 'unreachable');
    assert.equal(
      push.message,
      `push of ${ref} failed: registry ${closed} is unreachable (is the address right and the registry running?) (Get "http://${closed}/v2/": dial tcp ${closed}: connect: connection refused)`,
    );

    const pull = await registryError(() => ensureImage(b, ref, null, () => {}));
    assert.equal(pull.code, 'unreachable');
    assert.match(
      pull.message,
      new RegExp(`^pull of ${esc(ref)} failed: registry ${esc(closed)} is unreachable .*connection refused\\)$`),
    );
  });

  it('an image missing from the registry is not_found on pull; a missing local image is not_found on push', async () => {
    const missing = `${REGISTRY}/dockyard-test/never-pushed-${run}:1`;
    const pull = await registryError(() => ensureImage(b, missing, auth, () => {}));
    assert.equal(pull.code, 'not_found');
    assert.equal(
      pull.message,
      `pull of ${missing} failed: ${missing} is not in registry ${REGISTRY} (manifest for ${missing} not found: manifest unknown: manifest unknown)`,
    );

    const push = await registryError(() => pushImage(a, missing, auth, () => {}));
    assert.equal(push.code, 'not_found');
    assert.match(
      push.message,
      new RegExp(
        `^push of ${esc(missing)} failed: there is no local image ${esc(missing)} to push \\(.*does not exist locally`,
      ),
    );
  });

  it('a registry that refuses writes gives rejected, with its own words', async () => {
    const ro = await startReadOnlyRegistry();
    try {
      const ref = `${ro.address}/${repoPath}:1`;
      toRemove.a.push(ref);
      await tagImage(a, LOCAL, ref);
      const push = await registryError(() => pushImage(a, ref, { ...auth, server: ro.address }, () => {}));
      assert.equal(push.code, 'rejected');
      assert.match(
        push.message,
        new RegExp(
          `^push of ${esc(ref)} failed: registry ${esc(ro.address)} refused the push \\(.*405.*Method not allowed`,
          's',
        ),
      );
    } finally {
      await ro.stop();
    }
  });

  it('aborting during a push rejects with the signal reason', async () => {
    const ref = `${REGISTRY}/${repoPath}:aborted`;
    toRemove.a.push(ref);
    await tagImage(a, LOCAL, ref);
    const ac = new AbortController();
    const lines: string[] = [];
    const push = pushImage(
      a,
      ref,
      auth,
      (l) => {
        lines.push(l);
        ac.abort(new Error('job canceled'));
      },
      ac.signal,
    );
    await assert.rejects(push, /job canceled/);
    assert.equal(lines.length >= 1, true);
  });

  it('an aborted signal stops before any engine call', async () => {
    const ac = new AbortController();
    ac.abort(new Error('job canceled'));
    await assert.rejects(
      pushImage(a, REF, auth, () => {}, ac.signal),
      /job canceled/,
    );
    await assert.rejects(
      ensureImage(b, `${REGISTRY}/x/y:1`, auth, () => {}, ac.signal),
      /job canceled/,
    );
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
