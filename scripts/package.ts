// `npm run package`: the release package, one tarball per architecture, with everything a host
// needs but Docker (the layout is in README.md, "Release package"):
//   dist/release/dockyard-<version>-linux-<arch>.tar.gz and the same tree unpacked beside it.
// The bundles (scripts/build.ts) are copied as they are: every path they read at run time is
// relative to the repository root (build.ts rewrites import.meta.url to the source file's URL),
// so the package holds those files at the same relative paths, and the externals at the
// node_modules/.pnpm/... paths the bundles import them from.
// Idempotent: the tree is written beside the old one and swapped in when complete.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, readdir, readFile, readlink, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const RELEASE_DIR = path.join(ROOT, 'dist', 'release');

/**
 * Files and directories the bundles read at run time, relative to the repository root (found
 * with `grep import.meta.url` in the sources; test/src/e2e/package-agent.test.ts runs the package
 * from outside the repository). The pipeline schemas are not read by the bundles: they are
 * shipped for editors that validate dockyard.yml.
 */
const RUNTIME_FILES = [
  'migrations', // control-plane/src/store/db.ts
  'agent/src/supervisor/supervisor.mjs', // agent/src/supervisor/client.ts
  'agent/src/executor/spawner/helper.mjs', // the Node fallback of the native spawner
  'agent/src/executor/spawner/frames.mjs',
  'agent/src/executor/spawner/stage-kill.mjs', // imported by the two above
  'web/src/ui/assets', // web/src/ui/assets.ts
  'pipeline/schema',
];

/** Packages resolved at run time with require.resolve from a source directory (not bundled). */
const RESOLVED_PACKAGES = [{ name: 'ansi_up', from: 'web' }]; // web/src/ui/assets.ts serves its file

const INSTALL_SCRIPT = 'ops/install/install.sh';

export interface PackageResult {
  /** dist/release/dockyard-<version>-linux-<arch>.tar.gz */
  tarball: string;
  /** The same tree, unpacked. */
  dir: string;
  version: string;
  commit: string;
  /** The tarball's size in bytes (bench/install.ts reports it as package_mb = bytes / 1e6). */
  bytes: number;
  /** False when ops/install/install.sh was missing (the package is complete otherwise). */
  hasInstallScript: boolean;
}

function run(cmd: string, args: string[], cwd = ROOT): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** The version (cli/package.json) and the short commit of the checkout. */
export async function versionInfo(): Promise<{ version: string; commit: string }> {
  const { version } = JSON.parse(await readFile(path.join(ROOT, 'cli/package.json'), 'utf8')) as { version: string };
  return { version, commit: run('git', ['rev-parse', '--short', 'HEAD']) };
}

export function packageName(version: string, arch: string = process.arch): string {
  return `dockyard-${version}-linux-${arch}`;
}

/**
 * Copies an external the bundles import from node_modules/.pnpm/<id>/node_modules/<name>/...,
 * dereferenced (pnpm links its files to its store): the whole <id>/node_modules directory, so the
 * package's own dependencies (pnpm's siblings) come along; their dependencies are flattened into it.
 */
async function copyPnpmEntry(id: string, out: string): Promise<void> {
  const from = path.join(ROOT, 'node_modules/.pnpm', id, 'node_modules');
  const to = path.join(out, 'node_modules/.pnpm', id, 'node_modules');
  await cp(from, to, { recursive: true, dereference: true });
  // Dependencies of the dependencies: their pnpm directories' siblings, copied next to them.
  const seen = new Set<string>();
  const queue = await linkedIds(from);
  while (queue.length > 0) {
    const dep = queue.shift()!;
    if (seen.has(dep) || dep === id) continue;
    seen.add(dep);
    const depModules = path.join(ROOT, 'node_modules/.pnpm', dep, 'node_modules');
    for (const name of await packageNames(depModules)) {
      if (!existsSync(path.join(to, name)))
        await cp(path.join(depModules, name), path.join(to, name), { recursive: true, dereference: true });
    }
    queue.push(...(await linkedIds(depModules)));
  }
}

/** Names of the packages in a node_modules directory (scoped ones as @scope/name). */
async function packageNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) names.push(...(await readdir(path.join(dir, entry))).map((n) => `${entry}/${n}`));
    else names.push(entry);
  }
  return names;
}

/** The pnpm ids (.pnpm/<id>) that a node_modules directory's symlinks point into. */
async function linkedIds(dir: string): Promise<string[]> {
  const ids: string[] = [];
  for (const name of await packageNames(dir)) {
    const target = await readlink(path.join(dir, name)).catch(() => null);
    const id =
      target && /(?:^|\/)\.pnpm\/([^/]+)\//.exec(path.resolve(path.dirname(path.join(dir, name)), target))?.[1];
    if (id) ids.push(id);
  }
  return ids;
}

const WRAPPER = `#!/bin/sh
# dockyard: runs the bundled CLI with the package's own Node. Works through symlinks
# (/opt/dockyard/current/bin/dockyard, one in PATH) and from any working directory.
set -e
self=$0
while [ -L "$self" ]; do
  target=$(readlink "$self")
  case $target in
    /*) self=$target ;;
    *) self=$(dirname "$self")/$target ;;
  esac
done
ROOT=$(cd "$(dirname "$self")/.." && pwd -P)
exec "$ROOT/node/bin/node" "$ROOT/dist/dockyard.js" "$@"
`;

/** Every file the package is made of but the node binary and the externals (named by version), hashed. */
async function inputsHash(version: string, commit: string): Promise<string> {
  const hash = createHash('sha256').update(`${version} ${commit} ${process.execPath} ${process.version}\n`);
  const files = [
    'dist',
    ...RUNTIME_FILES,
    'agent/native/dy-spawn.c',
    'ops/systemd',
    INSTALL_SCRIPT,
    'scripts/package.ts',
  ];
  const walk = async (rel: string): Promise<void> => {
    const info = await stat(path.join(ROOT, rel)).catch(() => null);
    if (!info) {
      hash.update(`${rel} missing\n`);
    } else if (info.isDirectory()) {
      // dist/release/ is the output; source maps are not packaged.
      for (const entry of (await readdir(path.join(ROOT, rel))).sort())
        if (entry !== 'release' && !entry.endsWith('.map')) await walk(`${rel}/${entry}`);
    } else hash.update(`${rel}\n`).update(await readFile(path.join(ROOT, rel)));
  };
  for (const rel of files) await walk(rel);
  return hash.digest('hex');
}

/**
 * Runs `fn` holding dist/release/.lock (a directory with the holder's pid): test files of one
 * `npm test` build the package at the same time, and the second must find the first's, not
 * replace the tree the first one's test is reading. A lock whose holder is gone is taken over.
 */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(RELEASE_DIR, '.lock');
  await mkdir(RELEASE_DIR, { recursive: true });
  for (const deadline = Date.now() + 10 * 60_000; ;) {
    try {
      await mkdir(lock);
      await writeFile(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(await readFile(path.join(lock, 'pid'), 'utf8').catch(() => '0'));
      if (pid > 0 && !existsSync(`/proc/${pid}`)) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`${lock} is held by pid ${pid} for 10 minutes`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Builds the package (see the file's comment), or returns the one in dist/release when it was
 * built from the same inputs (a stamp beside it), unless `force`. Logs its steps to stderr.
 */
export async function buildPackage(
  options: { log?: (line: string) => void; force?: boolean } = {},
): Promise<PackageResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[package] ${line}\n`));
  run('bash', ['-c', '. scripts/lib.sh && ensure_build']);
  return withLock(() => buildLocked(log, options.force ?? false));
}

async function buildLocked(log: (line: string) => void, force: boolean): Promise<PackageResult> {
  const { version, commit } = await versionInfo();
  const name = packageName(version);
  const dir = path.join(RELEASE_DIR, name);
  const tarball = path.join(RELEASE_DIR, `${name}.tar.gz`);
  const stampFile = path.join(RELEASE_DIR, `.${name}.inputs`);
  const stamp = await inputsHash(version, commit);
  const hasInstallScript = existsSync(path.join(ROOT, INSTALL_SCRIPT));
  if (!force && existsSync(dir) && (await readFile(stampFile, 'utf8').catch(() => '')) === stamp) {
    const { size: bytes } = await stat(tarball).catch(() => ({ size: -1 }));
    if (bytes >= 0) {
      log(`${name} (${commit}) is up to date`);
      return { tarball, dir, version, commit, bytes, hasInstallScript };
    }
  }
  const tmp = path.join(RELEASE_DIR, `.tmp-${process.pid}`);
  const out = path.join(tmp, name);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  try {
    log(`${name} (${commit})`);
    await writeFile(path.join(out, 'VERSION'), `${version} ${commit}\n`);
    await mkdir(path.join(out, 'bin'));
    await writeFile(path.join(out, 'bin/dockyard'), WRAPPER, { mode: 0o755 });
    await mkdir(path.join(out, 'node/bin'), { recursive: true });
    await copyFile(process.execPath, path.join(out, 'node/bin/node'));
    await chmod(path.join(out, 'node/bin/node'), 0o755);

    // The bundles, without their source maps (they point at sources the package does not hold).
    await mkdir(path.join(out, 'dist'));
    const bundles = (await readdir(path.join(ROOT, 'dist'))).filter((f) => f.endsWith('.js'));
    const ids = new Set<string>();
    for (const file of bundles) {
      await copyFile(path.join(ROOT, 'dist', file), path.join(out, 'dist', file));
      const text = await readFile(path.join(ROOT, 'dist', file), 'utf8');
      for (const m of text.matchAll(/"\.\.\/node_modules\/\.pnpm\/([^/"]+)\//g)) ids.add(m[1]!);
    }
    for (const id of ids) await copyPnpmEntry(id, out);
    for (const { name: pkg, from } of RESOLVED_PACKAGES) {
      await cp(path.join(ROOT, from, 'node_modules', pkg), path.join(out, 'node_modules', pkg), {
        recursive: true,
        dereference: true,
      });
    }
    for (const rel of RUNTIME_FILES) await cp(path.join(ROOT, rel), path.join(out, rel), { recursive: true });

    // The native spawner, built with the host's cc (the agent uses the Node helper without it).
    await mkdir(path.join(out, 'agent/native/build'), { recursive: true });
    run('cc', [
      '-O2',
      '-Wall',
      '-Wextra',
      '-o',
      path.join(out, 'agent/native/build/dy-spawn'),
      'agent/native/dy-spawn.c',
    ]);

    await mkdir(path.join(out, 'systemd'));
    for (const unit of ['dockyard-agent.service', 'dockyard-server.service']) {
      await copyFile(path.join(ROOT, 'ops/systemd', unit), path.join(out, 'systemd', unit));
    }
    if (hasInstallScript) {
      await copyFile(path.join(ROOT, INSTALL_SCRIPT), path.join(out, 'install.sh'));
      await chmod(path.join(out, 'install.sh'), 0o755);
    }

    // gzip -6 by tar: about 15 s for the ~170 MB tree on one core; the tree is what the tests use.
    const tarTmp = path.join(tmp, `${name}.tar.gz`);
    run('tar', ['-C', tmp, '--owner=0', '--group=0', '--numeric-owner', '-czf', tarTmp, name]);
    // A rename cannot replace a non-empty directory: the old tree is moved aside (and removed) first.
    await rename(dir, path.join(tmp, 'old')).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rename(out, dir);
    await rename(tarTmp, tarball);
    await writeFile(stampFile, stamp);
    const { size: bytes } = await stat(tarball);
    return { tarball, dir, version, commit, bytes, hasInstallScript };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  buildPackage().then(
    (result) => {
      const rel = path.relative(process.cwd(), result.tarball) || result.tarball;
      process.stdout.write(`${rel} ${(result.bytes / 1e6).toFixed(1)} MB\n`);
      if (!result.hasInstallScript) {
        process.stderr.write(
          `package: ${INSTALL_SCRIPT} is missing (h-install writes it): the package above has no install.sh\n`,
        );
        process.exit(1);
      }
    },
    (err: unknown) => {
      process.stderr.write(`package failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
