/**
 * Measures an example's Dockerfiles with BuildKit through dockerode: cold build (build cache
 * pruned: run it on a scratch engine, the prune is engine-wide), rebuild after a one-line change to
 * a source file, and the image sizes.
 *
 *   DOCKER_HOST=unix:///tmp/scratch-engine.sock node --import tsx ops/images/measure.ts examples/webapp src/webapp.c
 *
 * The one-line change is made in a temporary copy of the context, never in the checkout.
 */
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dockerFromEnv } from '../../agent/src/executor/docker-client.js';

type Docker = ReturnType<typeof dockerFromEnv>;

export async function buildKit(
  docker: Docker,
  dir: string,
  dockerfile: string,
  t: string,
  buildargs: Record<string, string> = {},
): Promise<number> {
  const t0 = performance.now();
  // dockerode types the context-object form as returning void; it returns the progress stream.
  const stream = await (
    docker.buildImage as unknown as (ctx: unknown, opts: unknown) => Promise<NodeJS.ReadableStream>
  )({ context: dir, src: ['.'] }, {
    version: '2',
    t,
    dockerfile,
    networkmode: 'none',
    buildargs,
  } as Parameters<Docker['buildImage']>[1]);
  const events = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>((ok, ko) =>
    docker.modem.followProgress(stream as unknown as NodeJS.ReadableStream, (err: Error | null, out: unknown[]) =>
      err ? ko(err) : ok(out as never),
    ),
  );
  const failed = events.find((e) => e.error || e.errorDetail);
  if (failed) throw new Error(`build of ${dockerfile} failed: ${failed.errorDetail?.message ?? failed.error}`);
  return performance.now() - t0;
}

/** POST /build/prune?all=1 (dockerode's pruneBuilder drops its options). Engine-wide. */
async function prune(docker: Docker): Promise<void> {
  await new Promise<void>((ok, ko) =>
    docker.modem.dial(
      {
        path: '/build/prune?',
        method: 'POST',
        options: { all: true },
        statusCodes: { 200: true, 500: 'server error' },
      } as never,
      (err: unknown) => (err ? ko(err) : ok()),
    ),
  );
}

async function main(): Promise<void> {
  const [ctxArg = 'examples/webapp', srcFile = 'src/webapp.c', runs = '3'] = process.argv.slice(2);
  const docker = dockerFromEnv();
  const tmp = await mkdtemp(join(tmpdir(), 'dockyard-measure-'));
  try {
    const ctx = join(tmp, 'ctx');
    await cp(resolve(ctxArg), ctx, { recursive: true });
    for (const [file, tag] of [
      ['Dockerfile.naive', 'dockyard-measure/naive:1'],
      ['Dockerfile', 'dockyard-measure/two-stage:1'],
    ] as const) {
      for (let i = 0; i < Number(runs); i++) {
        await prune(docker);
        await docker
          .getImage(tag)
          .remove({ force: true })
          .catch(() => undefined);
        const cold = await buildKit(docker, ctx, file, tag);
        await appendFile(join(ctx, srcFile), `/* one-line change ${Date.now()} */\n`);
        const rebuild = await buildKit(docker, ctx, file, tag);
        const size = (await docker.getImage(tag).inspect()).Size;
        console.log(
          `${file}\tcold ${(cold / 1000).toFixed(2)} s\trebuild ${(rebuild / 1000).toFixed(2)} s\tratio ${(rebuild / cold).toFixed(3)}\tsize ${(size / 1e6).toFixed(2)} MB`,
        );
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
