// Fixtures shared by environment.test.ts and test-container.test.ts: the engine, a seed
// directory, and a two-service template. The engine comes from scripts/setup.sh; nothing here starts it.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseComposeTemplate, type ComposeTemplate } from '@dockyard/pipeline';
import type Dockerode from 'dockerode';
import { BASE_IMAGE, dockerFromEnv } from '../executor/docker-client.js';
import type { EnvironmentLabels } from './environment-labels.js';
import { tempDir } from '@dockyard/testkit';

const SETUP_HINT = 'run: bash scripts/docker/start-dockerd.sh && node --import tsx scripts/docker/build-base-image.ts';

/** The engine at DOCKER_HOST with the base image; fails (never skips) with a clear message. */
export async function connectEngine(): Promise<Dockerode> {
  const docker = dockerFromEnv();
  await docker.ping().catch((err: Error) => {
    throw new Error(
      `dockerd does not answer at DOCKER_HOST=${process.env.DOCKER_HOST ?? '(default)'}; ${SETUP_HINT} (${err.message})`,
    );
  });
  await docker
    .getImage(BASE_IMAGE)
    .inspect()
    .catch((err: Error) => {
      throw new Error(`image ${BASE_IMAGE} is missing; ${SETUP_HINT} (${err.message})`);
    });
  return docker;
}

/** A short unique suffix, so concurrent suites never share ids or names. */
export const uniq = (): string => randomUUID().slice(0, 8);

export function testLabels(agentId: string, expiresInMs = 10 * 60_000): EnvironmentLabels {
  return { owner: 'env-test', runId: `run-${agentId}`, agentId, expiresAt: new Date(Date.now() + expiresInMs) };
}

export const SITE_TEXT = 'hello from a seeded volume';

/** A directory holding index.html, to seed the `site` volume with. */
export async function siteDir(): Promise<string> {
  const dir = tempDir('env-site');
  await writeFile(join(dir, 'index.html'), `${SITE_TEXT}\n`);
  return dir;
}

export function template(value: unknown): ComposeTemplate {
  const r = parseComposeTemplate(value);
  if (!r.ok) throw new Error(`fixture template refused: ${JSON.stringify(r.problems)}`);
  return r.template;
}

export const WEB_PORT = 8080;

/** `web`: busybox httpd serving the seeded volume, healthy once wget fetches the page. */
const web = {
  image: BASE_IMAGE,
  command: `httpd -f -p ${WEB_PORT} -h /srv`,
  ports: [String(WEB_PORT)],
  volumes: ['site:/srv:ro'],
  healthcheck: {
    test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${WEB_PORT}/index.html`],
    interval: '200ms',
    timeout: '2s',
    retries: 30,
  },
};

/** `web` plus `client`, which waits for web to be healthy and takes env from an env_file. */
export const TWO_SERVICES = template({
  services: {
    web,
    client: {
      image: BASE_IMAGE,
      command: ['sh', '-c', 'echo client up; exec sleep 3600'],
      environment: { TARGET: `http://web:${WEB_PORT}/` },
      env_file: 'client.env',
      depends_on: { web: { condition: 'service_healthy' } },
    },
  },
  volumes: { site: null },
});

export const WEB_ONLY = template({ services: { web }, volumes: { site: null } });
