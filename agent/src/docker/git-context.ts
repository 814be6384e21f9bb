// Fetches one commit of a git repository into a directory, for use as a build context.
// Uses the system `git` (Debian's package) rather than a JS implementation: it speaks every
// transport and protocol version servers use, and its shallow fetch is what keeps a checkout
// of a big repository cheap. Git never prompts (no terminal, no askpass), and URLs are shown
// without their user:password part in every message.
import { spawn } from 'node:child_process';
import { AgentError } from '../errors';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

export const DEFAULT_GIT_TIMEOUT_MS = 120_000;

export interface CheckoutGitOptions {
  /** Whole operation, every git command included (default {@link DEFAULT_GIT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Keep `dest/.git` (default false: BuildKit's git contexts leave it out too, and it is big). */
  keepGitDir?: boolean;
}

export type GitErrorCode = 'git_missing' | 'bad_url' | 'fetch_failed' | 'ref_not_found' | 'timeout' | 'canceled';

export class GitContextError extends AgentError<GitErrorCode> {
  override readonly name = 'GitContextError';
}

/**
 * Checks out `ref` (branch, tag, full or abbreviated commit sha) of `url` (file://, http://,
 * https://) into `dest`, which must be absent or empty. Shallow (depth 1) when the server
 * can give the ref directly; an abbreviated sha, or a sha the server will not serve by
 * itself, falls back to a full fetch. Resolves with the full commit sha checked out.
 *
 * Throws GitContextError: `git_missing`, `bad_url` (scheme not allowed), `fetch_failed`
 * (unreachable, not a repository; git's own reason included), `ref_not_found`, `timeout`,
 * `canceled` (signal aborted; the running git process group is killed). On failure `dest`
 * is left for the caller to remove.
 */
export async function checkoutGit(
  url: string,
  ref: string,
  dest: string,
  signal?: AbortSignal,
  opts: CheckoutGitOptions = {},
): Promise<{ commit: string }> {
  const shown = redactUrl(url);
  if (!/^(file|https?):\/\//i.test(url)) {
    throw new GitContextError('bad_url', `git url '${shown}' is not supported: use file://, http:// or https://`);
  }
  if (!ref || ref.startsWith('-') || /[\s~^:?*[\\]/.test(ref)) {
    throw new GitContextError('ref_not_found', `'${ref}' is not a valid git ref name (repository ${shown})`);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const all = signal ? AbortSignal.any([signal, deadline]) : deadline;
  const git = (args: string[]) =>
    runGit(dest, args, all, () => (signal?.aborted ? 'canceled' : 'timeout'), timeoutMs, shown);

  await gitAvailable();
  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0) throw new Error(`checkout destination '${dest}' is not empty`);
  await git(['init', '-q']);
  await git(['remote', 'add', 'origin', url]);

  let commit: string | undefined;
  const shallow = await git(['fetch', '-q', '--no-tags', '--depth', '1', 'origin', ref]).then(
    () => null,
    (err: unknown) => err,
  );
  if (shallow === null) {
    commit = (await git(['rev-parse', '--verify', 'FETCH_HEAD^{commit}'])).trim();
  } else {
    if (isGitError(shallow, 'timeout') || isGitError(shallow, 'canceled')) throw shallow;
    if (
      !(shallow instanceof GitContextError) ||
      !/couldn't find remote ref|not our ref|unadvertised object|no such remote ref/i.test(shallow.message)
    ) {
      throw shallow; // unreachable server, not a repository: a full fetch would fail the same way
    }
    // Abbreviated shas and shas a server will not hand out by themselves need the history.
    await git(['fetch', '-q', '--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
    const candidates = [ref, `origin/${ref}`, `refs/tags/${ref}`];
    for (const c of candidates) {
      const out = await git(['rev-parse', '-q', '--verify', `${c}^{commit}`]).catch(() => '');
      if (out.trim()) {
        commit = out.trim();
        break;
      }
    }
    if (!commit)
      throw new GitContextError(
        'ref_not_found',
        `ref '${ref}' was not found in ${shown} (no such branch, tag or commit)`,
      );
  }
  await git(['-c', 'advice.detachedHead=false', 'checkout', '-q', '--detach', commit]);
  if (!opts.keepGitDir) await rm(path.join(dest, '.git'), { recursive: true, force: true });
  return { commit };
}

let gitChecked: Promise<void> | undefined;
function gitAvailable(): Promise<void> {
  gitChecked ??= new Promise<void>((resolve, reject) => {
    const p = spawn('git', ['--version'], { stdio: 'ignore' });
    p.on('error', (err) =>
      reject(
        new GitContextError('git_missing', 'git is not installed on this agent (Debian: apt-get install git)', {
          cause: err,
        }),
      ),
    );
    p.on('exit', (code) =>
      code === 0 ? resolve() : reject(new GitContextError('git_missing', `'git --version' exited ${code}`)),
    );
  }).catch((err: unknown) => {
    gitChecked = undefined; // let a later call see a git installed since
    throw err;
  });
  return gitChecked;
}

function runGit(
  cwd: string,
  args: string[],
  signal: AbortSignal,
  whyAborted: () => 'canceled' | 'timeout',
  timeoutMs: number,
  shownUrl: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(whyAborted(), timeoutMs, shownUrl));
    // Own process group, so an abort also kills git-remote-http and upload-pack under it.
    const p = spawn('git', args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        GIT_TERMINAL_PROMPT: '0', // fail instead of waiting on a password prompt
        GIT_ASKPASS: 'true',
        SSH_ASKPASS: 'true',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_LFS_SKIP_SMUDGE: '1',
        LC_ALL: 'C', // error texts we match on are English
      },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const onAbort = () => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // already exited: nothing to kill
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new GitContextError('git_missing', `running git failed: ${err.message}`, { cause: err }));
    });
    p.on('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(abortError(whyAborted(), timeoutMs, shownUrl));
      if (code === 0) return resolve(stdout);
      // git's "fatal:" lines carry the reason; the advice paragraph after them does not.
      const all = stderr
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      const fatal = all.filter((l) => /^(fatal|error):/.test(l)).map((l) => l.replace(/^(fatal|error):\s*/, ''));
      const reason = redactAll((fatal.length ? fatal : all.slice(-2)).join('; ')) || `exit code ${code}`;
      const verb = args[0] === 'fetch' ? `fetching from ${shownUrl}` : `git ${args[0]}`;
      reject(new GitContextError('fetch_failed', `${verb} failed: ${reason}`));
    });
  });
}

function abortError(why: 'canceled' | 'timeout', timeoutMs: number, shownUrl: string): GitContextError {
  return why === 'canceled'
    ? new GitContextError('canceled', `checkout of ${shownUrl} was canceled`)
    : new GitContextError('timeout', `checkout of ${shownUrl} did not finish within ${Math.round(timeoutMs / 1000)} s`);
}

function isGitError(err: unknown, code: GitErrorCode): boolean {
  return err instanceof GitContextError && err.code === code;
}

/**
 * `https://user:token@host/x` → `https://***@host/x`; anything unparsable is shown as is minus a userinfo-looking part.
 */
export function redactUrl(url: string): string {
  return redactAll(url);
}

function redactAll(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}
