/**
 * Copying host files into an image's build context: programs with the shared libraries `ldd`
 * names for them, whole directories, and a content hash of what was copied. Nothing can be
 * pulled here, so images of Node, Postgres and NATS are made of the host's own (Debian) files.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, readFile, readdir, readlink, symlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/** The shared libraries (resolved host paths) `ldd` lists for each ELF file, plus the loader. */
export function lddClosure(files: string[]): string[] {
  const libs = new Set<string>();
  for (const f of files) {
    let out: string;
    try {
      out = execFileSync('ldd', [f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue; // "not a dynamic executable" (a static binary, a script) exits 1
    }
    for (const line of out.split('\n')) {
      // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
      const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
      if (m) libs.add(m[1]!);
    }
  }
  return [...libs].sort();
}

/** ELF files under `dir` (by their magic number), for lddClosure. */
export async function elfFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const head = await readFile(p).then((b) => b.subarray(0, 4));
    if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) out.push(p);
  }
  return out;
}

/**
 * Copies each host path to the same path under `root` (a library reached through a symlink
 * such as /lib64 → usr/lib64 lands at its real place too, and the link is kept). Directories are
 * copied whole, minus paths `skip` matches.
 */
export async function copyHostPaths(
  paths: string[],
  root: string,
  skip?: RegExp,
  seen = new Set<string>(),
): Promise<number> {
  let bytes = 0;
  for (const p of paths) {
    // seen: a link to a parent directory (zoneinfo/posix → .) must not copy forever.
    if (skip?.test(p) || seen.has(p)) continue;
    seen.add(p);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    const dest = join(root, p);
    await mkdir(dirname(dest), { recursive: true });
    if (st.isDirectory()) {
      await mkdir(dest, { recursive: true });
      const names = await readdir(p);
      bytes += await copyHostPaths(
        names.map((n) => join(p, n)),
        root,
        skip,
        seen,
      );
    } else if (st.isSymbolicLink()) {
      const target = await readlink(p);
      await symlink(target, dest).catch((e) => {
        if (e.code !== 'EEXIST') throw e;
      });
      // The link's target is copied as well (libfoo.so.1 → libfoo.so.1.2.3).
      const abs = target.startsWith('/') ? target : join(dirname(p), target);
      bytes += await copyHostPaths([abs], root, skip, seen);
    } else if (st.isFile()) {
      await copyFile(p, dest).catch((e) => {
        if (e.code !== 'EEXIST') throw e;
      });
      bytes += st.size;
    }
  }
  return bytes;
}

/**
 * Debian 12 is usr-merged: /lib and /lib64 are symlinks into /usr. A library path as ldd prints
 * it (/lib/x86_64-linux-gnu/libc.so.6) is rewritten under /usr, and the image gets the same
 * /lib and /lib64 symlinks (its /bin stays busybox's).
 */
export async function usrMerged(paths: string[]): Promise<{ paths: string[]; links: string[] }> {
  const links: string[] = [];
  for (const d of ['/lib', '/lib64']) {
    const st = await lstat(d).catch(() => undefined);
    if (st?.isSymbolicLink() && (await readlink(d)).replace(/^\//, '') === 'usr' + d) links.push(d);
  }
  const mapped = paths.map((p) => {
    const top = links.find((d) => p.startsWith(d + '/'));
    return top ? '/usr' + p : p;
  });
  return { paths: [...new Set(mapped)].sort(), links };
}

/**
 * Copies `files` (with `libsOnly`: not them, only what they link) and the libraries they need
 * under `root`; makes the usr-merge links.
 */
export async function copyWithLibs(files: string[], root: string, skip?: RegExp, libsOnly = false): Promise<number> {
  const elf = (await Promise.all(files.map(async (f) => ((await lstat(f)).isFile() ? [f] : [])))).flat();
  const { paths, links } = await usrMerged([...(libsOnly ? [] : files), ...lddClosure(elf)]);
  const bytes = await copyHostPaths(paths, root, skip);
  for (const d of links) await symlink('usr' + d, join(root, d)).catch(() => undefined);
  return bytes;
}

/** sha256 over every file's relative path, mode and content (symlinks: their target) under `dir`. */
export async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const paths = entries.map((e) => join(e.parentPath, e.name)).sort();
  for (const p of paths) {
    const st = await lstat(p);
    h.update(`${relative(dir, p)}\0${st.mode}\0`);
    if (st.isSymbolicLink()) h.update(await readlink(p));
    else if (st.isFile()) h.update(await readFile(p));
    h.update('\0');
  }
  return h.digest('hex');
}
