/**
 * Builds the images of a compose farm (ops/compose/) from the release package and the host's
 * Debian packages, on dockyard/busybox:1 (nothing can be pulled here):
 *
 *   dockyard/server:<version>  the unpacked package under /opt/dockyard/<version> + the libraries its
 *                              node binary (and the native spawner) need; runs as uid 10001
 *   dockyard/agent:<version>   the server image + git (source stages clone); runs as root, for the
 *                              host's Docker socket mounted into it
 *   dockyard/postgres:15       Debian's postgresql-15 (binaries, share/, the .so modules but the JIT)
 *   dockyard/nats:2.9          Debian's nats-server
 *
 * Idempotent: each image carries `org.dockyard.content-hash` (its recipe, the versions of the
 * Debian packages its files come from, the parent image id, the package tree); a tag with the same
 * hash is left alone.
 *
 *   DOCKER_HOST=unix:///tmp/dockyard-docker/docker.sock node --import tsx ops/images/build-dockyard-images.ts [--force] [PACKAGE_DIR]
 *
 * PACKAGE_DIR defaults to dist/release/dockyard-<version>-linux-<arch>/ (`npm run package`).
 */
import { mkdtemp, readFile, rm, writeFile, mkdir, cp } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BASE_IMAGE, dockerFromEnv } from '../../agent/src/executor/docker-client.js';
import { ensureBaseImage } from '../../scripts/docker/build-base-image.js';
import { buildContext, currentHash } from './build-images.js';
import { copyWithLibs, elfFiles, treeHash } from './host-files.js';

type Docker = ReturnType<typeof dockerFromEnv>;

const REPO = resolve(import.meta.dirname, '../..');
export const POSTGRES_IMAGE = 'dockyard/postgres:15';
export const NATS_IMAGE = 'dockyard/nats:2.9';
export const SERVER_UID = 10001;
const PG = '/usr/lib/postgresql/15';

/** cli/package.json's version: the package's (scripts/package.ts names the tree after it). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO, 'cli/package.json'), 'utf8')) as { version: string }).version;
}

export function defaultPackageDir(version = packageVersion()): string {
  return join(REPO, 'dist/release', `dockyard-${version}-linux-${process.arch}`);
}

const ETC = (users: string) => ({
  'etc/passwd': `root:x:0:0:root:/root:/bin/sh\n${users}nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n`,
  'etc/group': `root:x:0:\n${users.replace(/^([^:]+):x:(\d+):.*$/gm, '$1:x:$2:')}nogroup:x:65534:\n`,
  'etc/nsswitch.conf': 'hosts: files dns\npasswd: files\ngroup: files\n',
});

/** The Postgres entrypoint: initdb on first start (password auth on the network), then postgres as `postgres`. */
const PG_START = `#!/bin/sh
# Runs as root only to prepare the data volume; postgres itself runs as uid 70.
set -eu
D=/var/lib/postgresql/data
mkdir -p "$D" /run/postgresql
chown postgres:postgres "$D" /run/postgresql
chmod 0700 "$D"
# busybox's start-stop-daemon without -b: switches user and execs in the foreground (its setpriv
# cannot change uids).
as_pg() { p=$1; shift; start-stop-daemon -S -c postgres:postgres -x "$p" -- "$@"; }
if [ ! -s "$D/PG_VERSION" ]; then
  pw=$(cat "\${POSTGRES_PASSWORD_FILE:?}")
  printf '%s\\n' "$pw" >/run/postgresql/pw && chown postgres /run/postgresql/pw
  as_pg ${PG}/bin/initdb -D "$D" -U "\${POSTGRES_USER:-dockyard}" -E UTF8 --locale=C \\
    --auth-local=trust --auth-host=scram-sha-256 --pwfile=/run/postgresql/pw >/dev/null
  rm -f /run/postgresql/pw
  echo "host all all all scram-sha-256" >>"$D/pg_hba.conf"
  echo "CREATE DATABASE \\"\${POSTGRES_DB:-dockyard}\\";" | as_pg ${PG}/bin/postgres --single -D "$D" postgres >/dev/null
fi
exec start-stop-daemon -S -c postgres:postgres -x ${PG}/bin/postgres -- -D "$D" -c listen_addresses='*' -k /run/postgresql
`;

interface Spec {
  tag: string;
  dockerfile: string;
  /** The Debian packages its host files come from (their Depends closure's versions go into the hash). */
  debs: string[];
  /** Fills `dir/rootfs` (and anything else the Dockerfile copies). */
  prepare: (dir: string) => Promise<void>;
}

async function writeFiles(root: string, files: Record<string, string>, mode = 0o644): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), text, { mode });
  }
}

function base(extra: string): string {
  return `ARG BASE_IMAGE=${BASE_IMAGE}\nFROM \${BASE_IMAGE}\nCOPY rootfs/ /\n${extra}\nARG CONTENT_HASH\nLABEL org.dockyard.content-hash=\${CONTENT_HASH}\n`;
}

function specs(pkgDir: string, version: string): Spec[] {
  const opt = `/opt/dockyard/${version}`;
  const server: Spec = {
    tag: `dockyard/server:${version}`,
    debs: ['libc6', 'libstdc++6', 'libgcc-s1'],
    dockerfile: base(
      [
        `RUN ["/bin/sh", "-c", "ln -s ${version} /opt/dockyard/current && ln -s /opt/dockyard/current/bin/dockyard /bin/dockyard && mkdir -p /var/lib/dockyard && chown ${SERVER_UID}:${SERVER_UID} /var/lib/dockyard && dockyard --version"]`,
        'ENV PATH=/bin DOCKYARD_DATA_DIR=/var/lib/dockyard',
        `USER ${SERVER_UID}:${SERVER_UID}`,
        'WORKDIR /var/lib/dockyard',
        'ENTRYPOINT ["/opt/dockyard/current/bin/dockyard"]',
        'CMD ["server"]',
      ].join('\n'),
    ),
    prepare: async (dir) => {
      const root = join(dir, 'rootfs');
      await cp(pkgDir, join(root, opt), { recursive: true, verbatimSymlinks: true });
      await copyWithLibs(await elfFiles(pkgDir), root, undefined, true);
      await writeFiles(root, ETC(`dockyard:x:${SERVER_UID}:${SERVER_UID}:dockyard:/var/lib/dockyard:/bin/sh\n`));
    },
  };
  const agent: Spec = {
    tag: `dockyard/agent:${version}`,
    debs: ['git'],
    dockerfile: [
      `FROM dockyard/server:${version}`,
      'USER 0:0',
      'COPY rootfs/ /',
      // git at /usr/bin/git, its helpers under /usr/lib/git-core; busybox's /bin comes first.
      'ENV PATH=/bin:/usr/bin GIT_EXEC_PATH=/usr/lib/git-core DOCKYARD_AGENT_STATE_DIR=/var/lib/dockyard-agent',
      'RUN ["/bin/sh", "-c", "git --version && mkdir -p /var/lib/dockyard-agent"]',
      'WORKDIR /var/lib/dockyard-agent',
      'CMD ["agent"]',
      'ARG CONTENT_HASH',
      'LABEL org.dockyard.content-hash=${CONTENT_HASH}',
      '',
    ].join('\n'),
    prepare: async (dir) => {
      const root = join(dir, 'rootfs');
      const gitCore = await elfFiles('/usr/lib/git-core');
      await copyWithLibs(['/usr/bin/git', ...gitCore, '/usr/lib/git-core', '/usr/share/git-core'], root);
    },
  };
  const postgres: Spec = {
    tag: POSTGRES_IMAGE,
    debs: ['postgresql-15', 'tzdata'],
    dockerfile: base(
      [
        'ENV PATH=/bin:/usr/lib/postgresql/15/bin TZ=UTC',
        'EXPOSE 5432',
        'STOPSIGNAL SIGINT', // "fast" shutdown: ends sessions, checkpoints, exits
        'ENTRYPOINT ["/bin/sh", "/usr/local/bin/pg-start"]',
      ].join('\n'),
    ),
    prepare: async (dir) => {
      const root = join(dir, 'rootfs');
      const bins = ['postgres', 'initdb', 'pg_ctl', 'pg_isready', 'psql'].map((b) => `${PG}/bin/${b}`);
      const mods = (await elfFiles(`${PG}/lib`)).filter((p) => !p.includes('llvmjit'));
      await copyWithLibs([...bins, ...mods, '/usr/share/postgresql/15', '/usr/share/zoneinfo'], root, /\/man\//);
      await writeFiles(root, ETC('postgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh\n'));
      await writeFiles(root, { 'usr/local/bin/pg-start': PG_START }, 0o755);
    },
  };
  const nats: Spec = {
    tag: NATS_IMAGE,
    debs: ['nats-server'],
    dockerfile: base(
      [
        'ENV PATH=/bin:/usr/sbin',
        'EXPOSE 4222 8222',
        'RUN ["/bin/sh", "-c", "mkdir -p /data && chown 65534:65534 /data"]',
        'USER 65534:65534',
        'ENTRYPOINT ["/usr/sbin/nats-server"]',
        'CMD ["-js", "-sd", "/data", "-m", "8222"]',
      ].join('\n'),
    ),
    prepare: async (dir) => {
      const root = join(dir, 'rootfs');
      await copyWithLibs(['/usr/sbin/nats-server'], root);
      await writeFiles(root, ETC(''));
    },
  };
  return [postgres, nats, server, agent];
}

/** Every installed Debian package: name -> [version, its Pre-Depends and Depends], from one dpkg-query. */
function installedDebs(): Map<string, [string, string]> {
  const out = execFileSync(
    'dpkg-query',
    ['-W', '-f=${db:Status-Abbrev}\t${Package}\t${Version}\t${Pre-Depends}, ${Depends}\n'],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const map = new Map<string, [string, string]>();
  for (const line of out.split('\n')) {
    const [status, name, version, deps] = line.split('\t');
    if (status?.startsWith('ii') && name) map.set(name.replace(/:.*$/, ''), [version!, deps!]);
  }
  return map;
}

/** `name=version` of `roots` and their installed dependencies (of alternatives, the first installed one). */
function debClosure(roots: string[], installed: Map<string, [string, string]>): string[] {
  const seen = new Map<string, string>();
  const todo = [...roots];
  while (todo.length) {
    const p = todo.pop()!;
    if (seen.has(p)) continue;
    const entry = installed.get(p);
    if (!entry) throw new Error(`Debian package ${p} is not installed (apt-get install ${p})`);
    seen.set(p, entry[0]);
    for (const group of entry[1].split(',')) {
      const alts = group.split('|').map((d) =>
        d
          .replace(/\(.*\)/, '')
          .replace(/:any/, '')
          .trim(),
      );
      const pick = alts.find((a) => installed.has(a));
      if (pick) todo.push(pick);
    }
  }
  return [...seen].map(([p, v]) => `${p}=${v}`).sort();
}

/** Builds (or leaves alone) the four images; the server and agent from the unpacked package `pkgDir`. */
export async function ensureDockyardImages(
  opts: { docker?: Docker; force?: boolean; pkgDir?: string; log?: (s: string) => void } = {},
): Promise<Record<string, 'present' | 'built'>> {
  const docker = opts.docker ?? dockerFromEnv();
  const pkgDir = resolve(opts.pkgDir ?? defaultPackageDir());
  if (!existsSync(join(pkgDir, 'VERSION')))
    throw new Error(`${pkgDir} is not an unpacked release package (no VERSION): run \`npm run package\` first`);
  const version = (await readFile(join(pkgDir, 'VERSION'), 'utf8')).split(/\s/)[0]!;
  await ensureBaseImage(docker);
  const busybox = (await docker.getImage(BASE_IMAGE).inspect()).Id;
  const result: Record<string, 'present' | 'built'> = {};
  // The hash of an image's inputs, cheap to compute: its recipe (Dockerfile, prepare step,
  // host-files.ts), the versions of the Debian packages its files come from (with their Depends
  // closure), the parent image and, for the server, the package tree. Any change rebuilds; nothing is copied to find out.
  const helpers = await readFile(join(import.meta.dirname, 'host-files.ts'), 'utf8');
  const pkgHash = await treeHash(pkgDir);
  const installed = installedDebs();
  for (const spec of specs(pkgDir, version)) {
    const fromServer = spec.dockerfile.startsWith('FROM dockyard/server');
    const parent = fromServer ? ((await currentHash(docker, `dockyard/server:${version}`)) ?? '') : busybox;
    const hash = createHash('sha256')
      .update(spec.tag)
      .update(spec.dockerfile)
      .update(spec.prepare.toString() + (spec.tag === POSTGRES_IMAGE ? PG_START : '') + ETC.toString() + helpers)
      .update(debClosure(spec.debs, installed).join('\n'))
      .update(parent)
      .update(spec.tag.startsWith('dockyard/server:') ? pkgHash : '')
      .digest('hex');
    if (!opts.force && (await currentHash(docker, spec.tag)) === hash) {
      result[spec.tag] = 'present';
      continue;
    }
    const dir = await mkdtemp(join(tmpdir(), 'dockyard-image-'));
    try {
      await spec.prepare(dir);
      await writeFile(join(dir, 'Dockerfile'), spec.dockerfile);
      await buildContext(docker, dir, spec.tag, hash);
      result[spec.tag] = 'built';
      opts.log?.(`${spec.tag} built`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return result;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const docker = dockerFromEnv();
  const t0 = Date.now();
  const pkgDir = args.find((a) => !a.startsWith('--'));
  const result = await ensureDockyardImages({ docker, force: args.includes('--force'), pkgDir, log: console.error });
  for (const [tag, state] of Object.entries(result)) {
    const info = await docker.getImage(tag).inspect();
    console.log(`${tag} ${state} (${(info.Size / 1e6).toFixed(1)} MB)`);
  }
  console.log(`images ready in ${Date.now() - t0} ms`);
}
