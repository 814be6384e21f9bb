// Fixtures for registry.test.ts. The agent cannot import @dockyard/test (that package depends
// on the agent), so these few lines mirror test/src/helpers/registry.ts. Both engines and the
// registry come from scripts/setup.sh; nothing here starts them.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { BASE_IMAGE } from '../executor/docker-client.js';
import { freePort, tempDir } from '@dockyard/testkit';

const SETUP_HINT = "'npm test' (scripts/setup.sh) starts it";
export const REGISTRY = '127.0.0.1:5000';
const REGISTRY_DIR = '/tmp/dockyard-registry';

/** Engine A (DOCKER_HOST) or B (/tmp/dockyard-docker-b), with the base image; fails loudly. */
export async function engine(which: 'A' | 'B'): Promise<Docker> {
  const host =
    which === 'A'
      ? (process.env.DOCKER_HOST ?? 'unix:///tmp/dockyard-docker/docker.sock')
      : 'unix:///tmp/dockyard-docker-b/docker.sock';
  if (!host.startsWith('unix://'))
    throw new Error(`engine ${which}: DOCKER_HOST must be unix:///path here, got ${host}`);
  const docker = new Docker({ socketPath: host.slice('unix://'.length) });
  await docker.ping().catch((err: Error) => {
    throw new Error(`no Docker engine ${which} at ${host}; ${SETUP_HINT} (${err.message})`);
  });
  await docker
    .getImage(BASE_IMAGE)
    .inspect()
    .catch((err: Error) => {
      throw new Error(`engine ${which} at ${host} lacks ${BASE_IMAGE}; ${SETUP_HINT} (${err.message})`);
    });
  return docker;
}

/** The registry's login, after checking GET /v2/ says 401 anonymously and 200 with it. */
export async function registryLogin(): Promise<{ username: string; password: string }> {
  const password = (
    await readFile(`${REGISTRY_DIR}/password`, 'utf8').catch((err: Error) => {
      throw new Error(`no registry password in ${REGISTRY_DIR}/password; ${SETUP_HINT} (${err.message})`);
    })
  ).trim();
  const basic = `Basic ${Buffer.from(`dockyard:${password}`).toString('base64')}`;
  const get = (headers?: Record<string, string>) =>
    fetch(`http://${REGISTRY}/v2/`, { headers, signal: AbortSignal.timeout(2000) }).then((r) => r.status);
  const anonymous = await get().catch((err: Error) => {
    throw new Error(`no registry answers at http://${REGISTRY}/v2/; ${SETUP_HINT} (${err.message})`);
  });
  const authed = await get({ authorization: basic });
  if (anonymous !== 401 || authed !== 200)
    throw new Error(`registry ${REGISTRY} answered ${anonymous}/${authed} (want 401/200); ${SETUP_HINT}`);
  return { username: 'dockyard', password };
}

/** Builds a tiny image (base + one file with `content`) on `docker` as `tag`; returns its id. */
export async function buildTinyImage(docker: Docker, tag: string, content: string): Promise<string> {
  const dir = tempDir('registry-test');
  try {
    await writeFile(join(dir, 'Dockerfile'), `FROM ${BASE_IMAGE}\nCOPY hello.txt /hello.txt\n`);
    await writeFile(join(dir, 'hello.txt'), content);
    const stream = await docker.buildImage(
      { context: dir, src: ['Dockerfile', 'hello.txt'] },
      { t: tag, networkmode: 'none', rm: true, forcerm: true },
    );
    const events = await new Promise<{ error?: string }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: unknown[]) =>
        err ? reject(err) : resolve(out as never),
      ),
    );
    const failed = events.find((e) => e.error);
    if (failed) throw new Error(`building ${tag} failed: ${failed.error}`);
    return (await docker.getImage(tag).inspect()).Id;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes images by name on an engine, ignoring the ones already gone. */
export async function removeImages(docker: Docker, refs: string[]): Promise<void> {
  for (const ref of refs) {
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
      });
  }
}

/** Deletes one manifest from the shared registry (delete is enabled there), so test runs leave no repos behind. */
export async function deleteManifest(
  repoPath: string,
  digest: string,
  login: { username: string; password: string },
): Promise<void> {
  const res = await fetch(`http://${REGISTRY}/v2/${repoPath}/manifests/${digest}`, {
    method: 'DELETE',
    headers: { authorization: `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}` },
  });
  if (res.status !== 202 && res.status !== 404)
    throw new Error(`deleting ${repoPath}@${digest} answered ${res.status}`);
}

/**
 * A registry of this test's own that refuses every write (maintenance read-only mode): the
 * real docker-registry binary on a free loopback port, same htpasswd as the shared one. The
 * shared registry accepts every authenticated push, so a refusal needs a second instance.
 */
export async function startReadOnlyRegistry(): Promise<{ address: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = tempDir('ro-registry');
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      `storage: { filesystem: { rootdirectory: ${dir}/data }, maintenance: { readonly: { enabled: true } } }`,
      `http: { addr: 127.0.0.1:${port} }`,
      `auth: { htpasswd: { realm: dockyard, path: ${REGISTRY_DIR}/htpasswd } }`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot run docker-registry (${err.message}); ${SETUP_HINT}`))),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    if (child.pid !== undefined) await exited; // a binary that never started has no exit event
    await rm(dir, { recursive: true, force: true });
  };
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  try {
    for (;;) {
      const status = await Promise.race([
        spawnError,
        fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.status,
          () => 0,
        ),
      ]);
      if (status === 401) return { address, stop };
      if (child.exitCode !== null) throw new Error(`read-only docker-registry exited with ${child.exitCode}`);
      if (Date.now() > deadline)
        throw new Error(`read-only docker-registry on ${address} did not answer 401 within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
