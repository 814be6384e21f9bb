// Packs a build context directory into a tar stream the way the docker CLI does before it
// posts /build: .dockerignore honoured (Moby's matcher, `!` exceptions included), the
// Dockerfile and .dockerignore always sent, owners reset to root, symlinks stored as links and
// never followed (so a link to ../../etc cannot pull host files in), and a size cap checked
// before any byte is sent, so an oversized context fails fast with a message saying what to do.
import { AgentError } from '../errors';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import ignore from '@balena/dockerignore';
import { pack, type Pack } from 'tar-stream';

/** Default cap on a context's file bytes (the CLI sends the whole context on every build). */
export const DEFAULT_CONTEXT_MAX_BYTES = 200 * 1024 * 1024;

export interface PackContextOptions {
  /** Dockerfile path inside the context (default `Dockerfile`); always sent even if ignored. */
  dockerfile?: string;
  /** Largest total of file bytes accepted (default {@link DEFAULT_CONTEXT_MAX_BYTES}). */
  maxBytes?: number;
}

/** Thrown (or emitted by the stream) for a context that cannot be packed: too big, missing, unreadable. */
export class ContextError extends AgentError<'too_large' | 'not_found' | 'unreadable'> {
  override readonly name = 'ContextError';
}

interface Entry {
  rel: string; // slash-separated, relative to the context root
  abs: string;
  kind: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number;
  mtime: Date;
}

/**
 * Lists what would be sent, in the order it would be sent. Reads only metadata.
 * Throws ContextError `not_found` when `dir` is not a directory and `too_large` as soon as
 * the running total passes `maxBytes` (the walk stops there, so a huge tree costs little).
 */
export async function contextEntries(dir: string, opts: PackContextOptions = {}): Promise<Entry[]> {
  const root = await realpath(dir).catch((err: unknown) => {
    throw new ContextError('not_found', `build context '${dir}' does not exist`, { cause: err });
  });
  if (!(await lstat(root)).isDirectory())
    throw new ContextError('not_found', `build context '${dir}' is not a directory`);
  const maxBytes = opts.maxBytes ?? DEFAULT_CONTEXT_MAX_BYTES;
  const dockerfile = toSlash(path.posix.normalize(opts.dockerfile ?? 'Dockerfile')).replace(/^\/+/, '');
  const matcher = await loadIgnore(root, dockerfile);

  const out: Entry[] = [];
  let total = 0;
  const walk = async (absDir: string, relDir: string): Promise<void> => {
    const names = (await readdir(absDir)).sort(); // sorted: the same tree always gives the same tar
    for (const name of names) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const abs = path.join(absDir, name);
      const st = await lstat(abs); // lstat: a symlink is reported as itself, never followed
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : null;
      if (kind === null) continue; // sockets, fifos, devices: not build inputs
      if (matcher.ignores(rel)) {
        // Moby walks into an excluded directory only when an exception could re-include something in it.
        if (kind === 'dir' && matcher.mayReinclude(rel)) await walk(abs, rel);
        continue;
      }
      out.push({ rel, abs, kind, size: kind === 'file' ? st.size : 0, mode: st.mode & 0o7777, mtime: st.mtime });
      if (kind === 'file') {
        total += st.size;
        if (total > maxBytes) {
          throw new ContextError(
            'too_large',
            `build context '${dir}' is over the ${formatBytes(maxBytes)} limit (stopped counting at ${rel}); ` +
              'exclude build outputs and dependencies in .dockerignore',
          );
        }
      }
      if (kind === 'dir') await walk(abs, rel);
    }
  };
  await walk(root, '');
  return out;
}

/** Total file bytes and entry count of the context that {@link packContext} would send. */
export async function contextSize(
  dir: string,
  opts: PackContextOptions = {},
): Promise<{ bytes: number; entries: number }> {
  const entries = await contextEntries(dir, opts);
  return { bytes: entries.reduce((n, e) => n + e.size, 0), entries: entries.length };
}

/**
 * A tar stream of `dir` as a build context. Returns at once; the walk (and the size check)
 * runs when the stream is first read, and any problem is emitted as a ContextError on the
 * stream, which dockerode turns into a failed request. Destroying the stream stops the packing.
 */
export function packContext(dir: string, opts: PackContextOptions = {}): Readable {
  const tar = pack();
  let started = false;
  const out = new Readable({
    read() {
      if (started) {
        tar.resume();
        return;
      }
      started = true;
      fill(tar, dir, opts).catch((err: unknown) => out.destroy(asContextError(err, dir)));
    },
    destroy(err, cb) {
      tar.destroy();
      cb(err);
    },
  });
  tar.on('data', (chunk: unknown) => {
    if (!out.push(chunk)) tar.pause();
  });
  tar.on('end', () => out.push(null));
  tar.on('error', (err: Error) => out.destroy(asContextError(err, dir)));
  return out;
}

async function fill(tar: Pack, dir: string, opts: PackContextOptions): Promise<void> {
  for (const e of await contextEntries(dir, opts)) {
    // uid/gid 0 as the CLI sends them: COPY'd files are root's, whatever user packed them.
    const header = { name: e.rel, mode: e.mode, mtime: e.mtime, uid: 0, gid: 0, uname: '', gname: '' };
    if (e.kind === 'dir') {
      tar.entry({ ...header, type: 'directory' });
    } else if (e.kind === 'symlink') {
      tar.entry({ ...header, type: 'symlink', linkname: await readlink(e.abs) });
    } else {
      await new Promise<void>((resolve, reject) => {
        const sink = tar.entry({ ...header, type: 'file', size: e.size }, (err) => (err ? reject(err) : resolve()));
        // end: size - 1 so a file that grew since the walk still matches its header.
        const src = e.size === 0 ? Readable.from([]) : createReadStream(e.abs, { start: 0, end: e.size - 1 });
        src.on('error', reject);
        src.pipe(sink);
      });
    }
  }
  tar.finalize();
}

interface ContextMatcher {
  ignores(rel: string): boolean;
  mayReinclude(relDir: string): boolean;
}

async function loadIgnore(root: string, dockerfile: string): Promise<ContextMatcher> {
  const text = await readFile(path.join(root, '.dockerignore'), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw new ContextError('unreadable', `cannot read ${path.join(root, '.dockerignore')}: ${err.message}`, {
      cause: err,
    });
  });
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  // Linux docker matches case-sensitively; the library defaults to case-insensitive.
  const base = ignore({ ignorecase: false }).add(lines);
  // Like the CLI (TrimBuildFilesFromExcludes): the builder needs these two even when excluded.
  const forced = ['.dockerignore', dockerfile].filter((f) => base.ignores(f)).map((f) => `!${f}`);
  const all = [...lines, ...forced];
  const m = ignore({ ignorecase: false }).add(all);
  const exceptions = all
    .map((l) => l.trim())
    .filter((l) => l.startsWith('!'))
    .map((l) => path.posix.normalize(toSlash(l.slice(1).trim())).replace(/^\/+/, ''));
  return {
    ignores: (rel) => m.ignores(rel),
    // Moby's rule (archive.TarWithOptions): descend only if some exception pattern starts
    // with the directory's path; `!**/keep` does not reopen an excluded directory there either.
    mayReinclude: (relDir) => exceptions.some((p) => `${p}/`.startsWith(`${relDir}/`)),
  };
}

function toSlash(p: string): string {
  return p.split(path.sep).join('/');
}

function asContextError(err: unknown, dir: string): Error {
  if (err instanceof ContextError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ContextError('unreadable', `packing build context '${dir}' failed: ${msg}`, { cause: err });
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round(n / 1024 / 1024)} MiB` : `${n} bytes`;
}
