/**
 * Builds the small local base images that the examples build on (nothing can be pulled here):
 *
 *   dockyard/static:1  runtime: dockyard/busybox:1 + /etc/passwd, /etc/group (user `app`, uid
 *                      65532) and /etc/nsswitch.conf; for statically linked programs (~2 MB)
 *   dockyard/build:1   SDK: dockyard/busybox:1 + GCC 12, binutils, make and the glibc headers
 *                      and static libraries, copied file by file from the host's Debian packages
 *                      (`dpkg -L`), without docs, man pages, locales and sanitizer runtimes
 *
 * Idempotent and fast when present: each image carries a label `org.dockyard.content-hash`
 * (sha256 of its Dockerfile, the package versions and the busybox binary); an image whose tag
 * exists with the same hash is left alone. It builds on the engine named by DOCKER_HOST, so run it
 * once per engine:
 *
 *   DOCKER_HOST=unix:///tmp/dockyard-docker/docker.sock node --import tsx ops/images/build-images.ts [--force]
 * [static|build ...]
 *
 * Needs the Debian packages gcc-12, libc6-dev and make installed on the host (scripts/lib.sh
 * `ensure_images` installs them).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BASE_IMAGE, dockerFromEnv } from '../../agent/src/executor/docker-client.js';
import { ensureBaseImage } from '../../scripts/docker/build-base-image.js';

export const RUNTIME_IMAGE = 'dockyard/static:1';
export const BUILD_IMAGE = 'dockyard/build:1';
export const HASH_LABEL = 'org.dockyard.content-hash';

type Docker = ReturnType<typeof dockerFromEnv>;

/** Top-level Debian packages of the SDK; their Depends closure is copied too. */
const SDK_PACKAGES = ['gcc-12', 'libc6-dev', 'make'];
/**
 * Packages of the closure left out: sanitizer runtimes (not used by -static builds), krb5/ssl (only libtirpc wants
 * them).
 */
const SDK_SKIP_PACKAGES = new Set([
  'libasan8',
  'liblsan0',
  'libtsan2',
  'libubsan1',
  'libhwasan0',
  'libgprofng0',
  'libssl3',
  'libkrb5-3',
  'libk5crypto3',
  'libgssapi-krb5-2',
  'libkrb5support0',
  'libkeyutils1',
  'libcom-err2',
]);
/**
 * Paths left out of every package (docs, locales; LTO (lto1, lto-dump), gold, dwp, gprofng: 70 MB not needed for -O2
 * builds).
 */
const SDK_SKIP_PATH =
  /^\/usr\/share\/(doc|man|info|locale|lintian|bug|gdb|bash-completion)\/|^\/usr\/lib\/x86_64-linux-gnu\/gconv\/|\/lib(asan|lsan|tsan|ubsan|hwasan)[^/]*$|^\/usr\/bin\/(x86_64-linux-gnu-)?(gprofng|lto-dump|ld\.gold|gold|dwp)|\/lto1$|^\/usr\/lib\/x86_64-linux-gnu\/gprofng\//;

const RUNTIME_DOCKERFILE = `ARG BASE_IMAGE=${BASE_IMAGE}
FROM \${BASE_IMAGE}
COPY etc/ /etc/
ENV PATH=/bin
WORKDIR /
ARG CONTENT_HASH
LABEL ${HASH_LABEL}=\${CONTENT_HASH} org.opencontainers.image.description="busybox + passwd/group/nsswitch for static programs"
`;

const RUNTIME_FILES: Record<string, string> = {
  'etc/passwd':
    'root:x:0:0:root:/root:/bin/sh\napp:x:65532:65532:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\napp:x:65532:\nnogroup:x:65534:\n',
  'etc/nsswitch.conf': 'hosts: files dns\npasswd: files\ngroup: files\n',
};

const BUILD_DOCKERFILE = `ARG BASE_IMAGE=${BASE_IMAGE}
FROM \${BASE_IMAGE}
COPY rootfs/ /
RUN ["/bin/sh", "-c", "export PATH=/usr/bin:/bin && ln -sf gcc-12 /usr/bin/gcc && ln -sf gcc-12 /usr/bin/cc && ln -sf cpp-12 /usr/bin/cpp && ln -sf x86_64-linux-gnu-gcc-12 /usr/bin/x86_64-linux-gnu-gcc && gcc --version >/dev/null && mkdir -p /src"]
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /src
ARG CONTENT_HASH
LABEL ${HASH_LABEL}=\${CONTENT_HASH} org.opencontainers.image.description="GCC 12 + binutils + make + glibc (Debian 12 packages) on busybox"
CMD ["sh"]
`;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** The Depends/Pre-Depends closure of `roots`, installed packages only (alternatives: the first). */
export function packageClosure(roots: string[], skip = SDK_SKIP_PACKAGES): Map<string, string> {
  const out = new Map<string, string>();
  const todo = [...roots];
  while (todo.length) {
    const p = todo.pop()!;
    if (out.has(p) || skip.has(p)) continue;
    let line: string;
    try {
      line = sh('dpkg-query', ['-W', '-f=${db:Status-Abbrev}\t${Version}\t${Pre-Depends}, ${Depends}', p]);
    } catch {
      throw new Error(`Debian package ${p} is not installed (apt-get install ${SDK_PACKAGES.join(' ')})`);
    }
    const [status, version, deps] = line.split('\t');
    if (!status?.startsWith('ii')) throw new Error(`Debian package ${p} is not installed (status '${status?.trim()}')`);
    out.set(p, version!);
    for (const d of deps!.split(',')) {
      const name = d
        .split('|')[0]!
        .replace(/\(.*\)/, '')
        .replace(/:any/, '')
        .trim();
      if (name) todo.push(name);
    }
  }
  return out;
}

function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export async function currentHash(docker: Docker, tag: string): Promise<string | undefined | null> {
  try {
    const info = await docker.getImage(tag).inspect();
    return info.Config?.Labels?.[HASH_LABEL] ?? null;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw err;
  }
}

export async function buildContext(docker: Docker, dir: string, tag: string, hash: string): Promise<void> {
  // dockerode types the context-object form as returning void; it returns the progress stream.
  const stream = await (
    docker.buildImage as unknown as (ctx: unknown, opts: unknown) => Promise<NodeJS.ReadableStream>
  )(
    { context: dir, src: ['.'] } as { context: string; src: string[] },
    {
      t: tag,
      version: '2',
      networkmode: 'none',
      buildargs: { CONTENT_HASH: hash },
      labels: { [HASH_LABEL]: hash },
    } as Parameters<Docker['buildImage']>[1],
  );
  const events = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>((resolve, reject) =>
    docker.modem.followProgress(stream as unknown as NodeJS.ReadableStream, (err: Error | null, out: unknown[]) =>
      err ? reject(err) : resolve(out as never),
    ),
  );
  const failed = events.find((e) => e.error || e.errorDetail);
  if (failed) throw new Error(`building ${tag} failed: ${failed.errorDetail?.message ?? failed.error}`);
  if ((await currentHash(docker, tag)) !== hash)
    throw new Error(`building ${tag} reported success but the image (with hash ${hash}) is missing`);
}

/** Copies each listed host file, symlink and directory to the same path under `root`. */
async function copyTree(paths: string[], root: string): Promise<number> {
  let bytes = 0;
  for (const p of paths) {
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue; // listed by dpkg but removed (a diverted or excluded file)
    const dest = join(root, p);
    if (st.isDirectory()) {
      await mkdir(dest, { recursive: true });
      continue;
    }
    await mkdir(dirname(dest), { recursive: true });
    if (st.isSymbolicLink())
      await symlink(await readlink(p), dest).catch((e) => {
        if (e.code !== 'EEXIST') throw e;
      });
    else if (st.isFile()) {
      await copyFile(p, dest);
      bytes += st.size;
    }
  }
  return bytes;
}

/** Top-level dirs that are symlinks into /usr on the host (Debian 12: /bin, /sbin, /lib, /lib64). */
async function usrMergedDirs(): Promise<string[]> {
  const out: string[] = [];
  for (const d of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    const st = await lstat(d).catch(() => undefined);
    if (st?.isSymbolicLink() && (await readlink(d)).replace(/^\//, '') === 'usr' + d) out.push(d);
  }
  return out;
}

interface Spec {
  tag: string;
  /** Hash inputs (cheap to compute). */
  hash: () => Promise<string>;
  /** Fills the build context dir. */
  prepare: (dir: string) => Promise<void>;
}

async function busyboxHash(docker: Docker): Promise<string> {
  const info = await docker.getImage(BASE_IMAGE).inspect();
  return info.Id;
}

function specs(docker: Docker): Record<'static' | 'build', Spec> {
  return {
    static: {
      tag: RUNTIME_IMAGE,
      hash: async () => sha256(RUNTIME_DOCKERFILE, JSON.stringify(RUNTIME_FILES), await busyboxHash(docker)),
      prepare: async (dir) => {
        await writeFile(join(dir, 'Dockerfile'), RUNTIME_DOCKERFILE);
        for (const [p, text] of Object.entries(RUNTIME_FILES)) {
          await mkdir(dirname(join(dir, p)), { recursive: true });
          await writeFile(join(dir, p), text);
        }
      },
    },
    build: {
      tag: BUILD_IMAGE,
      hash: async () => {
        const pkgs = [...packageClosure(SDK_PACKAGES)]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([p, v]) => `${p}=${v}`);
        return sha256(
          BUILD_DOCKERFILE,
          pkgs.join('\n'),
          String(SDK_SKIP_PATH),
          [...SDK_SKIP_PACKAGES].join(','),
          await busyboxHash(docker),
        );
      },
      prepare: async (dir) => {
        await writeFile(join(dir, 'Dockerfile'), BUILD_DOCKERFILE);
        const pkgs = [...packageClosure(SDK_PACKAGES).keys()];
        const files = sh('dpkg', ['-L', ...pkgs])
          .split('\n')
          .filter((p) => p.startsWith('/') && !SDK_SKIP_PATH.test(p));
        // Debian 12 is usr-merged: /bin, /sbin, /lib and /lib64 are symlinks into /usr on the host.
        // Files go under /usr; /lib and /lib64 become the same symlinks; /bin stays busybox's.
        const merged = await usrMergedDirs();
        const paths = files.map((p) => {
          const top = merged.find((d) => p === d || p.startsWith(d + '/'));
          return top ? '/usr' + p : p;
        });
        const bytes = await copyTree([...new Set(paths)].sort(), join(dir, 'rootfs'));
        for (const d of merged) if (d !== '/bin' && d !== '/sbin') await symlink('usr' + d, join(dir, 'rootfs', d));
        console.error(`${BUILD_IMAGE}: ${pkgs.length} packages, ${(bytes / 1e6).toFixed(1)} MB of files`);
      },
    },
  };
}

export async function ensureImages(
  opts: { docker?: Docker; force?: boolean; only?: ('static' | 'build')[] } = {},
): Promise<Record<string, 'present' | 'built'>> {
  const docker = opts.docker ?? dockerFromEnv();
  await ensureBaseImage(docker);
  const all = specs(docker);
  const result: Record<string, 'present' | 'built'> = {};
  for (const name of opts.only ?? (['static', 'build'] as const)) {
    const spec = all[name];
    const hash = await spec.hash();
    if (!opts.force && (await currentHash(docker, spec.tag)) === hash) {
      result[spec.tag] = 'present';
      continue;
    }
    const dir = await mkdtemp(join(tmpdir(), 'dockyard-image-'));
    try {
      await spec.prepare(dir);
      await buildContext(docker, dir, spec.tag, hash);
      result[spec.tag] = 'built';
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const only = args.filter((a) => a === 'static' || a === 'build') as ('static' | 'build')[];
  const docker = dockerFromEnv();
  const t0 = Date.now();
  const result = await ensureImages({ docker, force: args.includes('--force'), only: only.length ? only : undefined });
  for (const [tag, state] of Object.entries(result)) {
    const info = await docker.getImage(tag).inspect();
    console.log(`${tag} ${state} (${(info.Size / 1e6).toFixed(1)} MB)`);
  }
  console.log(`images ready in ${Date.now() - t0} ms`);
}
