/**
 * Builds the local image dockyard/busybox:1 (FROM scratch + static busybox, PATH=/bin) that
 * docker tests and dev pipelines run in. Nothing can be pulled here, so the image is made from
 * Debian's busybox-static. Idempotent: exits at once when the image exists.
 *
 *   DOCKER_HOST=unix:///tmp/dockyard-docker/docker.sock node --import tsx scripts/docker/build-base-image.ts
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BASE_IMAGE, dockerFromEnv } from '../../agent/src/executor/docker-client.js';

const BUSYBOX = '/bin/busybox'; // from busybox-static (start-dockerd.sh installs it)

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -p /tmp /root /workspace && chmod 1777 /tmp"]
ENV PATH=/bin
WORKDIR /workspace
CMD ["sh"]
`;

type Docker = ReturnType<typeof dockerFromEnv>;

export async function ensureBaseImage(docker: Docker = dockerFromEnv()): Promise<'present' | 'built'> {
  if (await imageExists(docker, BASE_IMAGE)) return 'present';
  const dir = await mkdtemp(join(tmpdir(), 'dockyard-base-image-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), DOCKERFILE);
    await copyFile(BUSYBOX, join(dir, 'busybox'));
    const stream = await docker.buildImage(
      { context: dir, src: ['Dockerfile', 'busybox'] },
      { t: BASE_IMAGE, networkmode: 'none', rm: true, forcerm: true },
    );
    // Build errors do not reject: they arrive as `error` entries in the progress stream.
    const events = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null, out: unknown[]) =>
        err ? reject(err) : resolve(out as never),
      ),
    );
    const failed = events.find((e) => e.error || e.errorDetail);
    if (failed) throw new Error(`building ${BASE_IMAGE} failed: ${failed.errorDetail?.message ?? failed.error}`);
    if (!(await imageExists(docker, BASE_IMAGE)))
      throw new Error(`building ${BASE_IMAGE} reported success but the image is missing`);
    return 'built';
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = Date.now();
  const result = await ensureBaseImage();
  console.log(`${BASE_IMAGE} ${result} (${Date.now() - t0} ms)`);
}
