import type Docker from 'dockerode';
import { engineText, registryFailure, type FailureContext } from './registry-errors.js';
import { readProgress } from './registry-progress.js';

export { RegistryError, isRegistryError, type RegistryErrorCode } from './registry-errors.js';

/**
 * Credentials for one registry. `server` is the registry's host[:port] as it appears in image
 * refs ("127.0.0.1:5000"). Without username/password the engine talks to it anonymously.
 * The password is sent to the engine only; it never appears in a line or an error message.
 */
export interface RegistryAuth {
  server: string;
  username?: string;
  password?: string;
}

export interface PushResult {
  /** The manifest digest the registry stored ("sha256:…"): pull by `repo@digest` to get exactly this. */
  digest: string;
  /**
   * The image's size on the engine (uncompressed, from inspect). The engine's `aux.Size` is only the manifest's size.
   */
  sizeBytes: number;
}

/**
 * Pushes the local image `ref` (e.g. "127.0.0.1:5000/dockyard/app:7"; tag defaults to
 * "latest") to the registry it names. The image must already carry that name: use
 * `tagImage` first. Only that one tag is pushed (the API would push every tag of the repo
 * when none is given).
 *
 * Progress goes to `onLine` as it comes (one line per layer status change). Safe to run
 * concurrently for different refs. `signal` aborts the request; the promise then rejects with
 * the signal's reason. Throws RegistryError: `auth_failed`, `unreachable`, `rejected`, or
 * `not_found` when there is no such local image. Other engine failures are rethrown as they are.
 */
export async function pushImage(
  docker: Docker,
  ref: string,
  auth: RegistryAuth,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<PushResult> {
  signal?.throwIfAborted();
  const { repo, tag, digest } = parseRef(ref);
  if (digest) throw new TypeError(`cannot push ${ref}: push takes a tag, not a digest`);
  const ctx = context('push', ref, auth.server || registryOf(ref), auth);

  let stream: NodeJS.ReadableStream;
  try {
    // dockerode's types lack authconfig/abortSignal on push options; both are passed through.
    const opts = { tag, authconfig: authConfig(auth), abortSignal: signal };
    stream = await docker.getImage(repo).push(opts as Docker.ImagePushOptions);
  } catch (err) {
    signal?.throwIfAborted();
    throw mapHttpError(ctx, err);
  }
  const result = await follow(stream, onLine, signal);
  if (result.error) throw registryFailure(ctx, result.error);
  const pushed = result.aux?.Digest;
  if (!pushed) throw registryFailure(ctx, 'the engine ended the push without reporting a digest');

  const info = await docker.getImage(`${repo}:${tag}`).inspect();
  return { digest: pushed, sizeBytes: info.Size };
}

/**
 * Makes sure the image `ref` is on this engine: present locally means nothing to do
 * (`{ pulled: false }`, no registry traffic, so it also works offline); otherwise it is pulled
 * from the registry named in the ref, with `auth` when given (null: anonymous), streaming
 * progress to `onLine`. Concurrent calls for the same ref are safe (the engine joins them).
 * `signal` aborts the pull; the promise then rejects with the signal's reason.
 * Throws RegistryError: `not_found` (not in the registry), `auth_failed`, `unreachable`, `rejected`.
 */
export async function ensureImage(
  docker: Docker,
  ref: string,
  auth: RegistryAuth | null,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ pulled: boolean }> {
  signal?.throwIfAborted();
  if (await imagePresent(docker, ref)) return { pulled: false };
  const { repo, tag, digest } = parseRef(ref);
  const ctx = context('pull', ref, auth?.server || registryOf(ref), auth);

  let stream: NodeJS.ReadableStream;
  try {
    // The API takes a digest in the `tag` parameter too.
    const opts = { fromImage: repo, tag: digest ?? tag, abortSignal: signal };
    stream = await docker.createImage(auth ? authConfig(auth) : undefined, opts);
  } catch (err) {
    signal?.throwIfAborted();
    throw mapHttpError(ctx, err);
  }
  const result = await follow(stream, onLine, signal);
  if (result.error) throw registryFailure(ctx, result.error);
  if (!(await imagePresent(docker, ref)))
    throw registryFailure(ctx, 'the engine ended the pull but the image is not there');
  return { pulled: true };
}

/** Gives the local image `source` (name or id) the extra name `ref`, ready for pushImage. */
export async function tagImage(docker: Docker, source: string, ref: string): Promise<void> {
  const { repo, tag, digest } = parseRef(ref);
  if (digest) throw new TypeError(`cannot tag as ${ref}: a tag cannot be a digest`);
  await docker.getImage(source).tag({ repo, tag });
}

/** Splits "host:5000/a/b:tag" or "a/b@sha256:…" (a port colon is not a tag colon). */
export function parseRef(ref: string): { repo: string; tag: string; digest?: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repo: ref.slice(0, at), tag: 'latest', digest: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

/** The registry host of a ref, by Docker's rule: a first part with "." or ":" or "localhost" is a host. */
export function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  return first && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

function context(op: 'push' | 'pull', ref: string, server: string, auth: RegistryAuth | null): FailureContext {
  return { op, ref, server, hadCredentials: Boolean(auth?.username || auth?.password), password: auth?.password };
}

function authConfig(auth: RegistryAuth): { username?: string; password?: string; serveraddress: string } {
  return { username: auth.username, password: auth.password, serveraddress: auth.server };
}

// Errors before the stream starts arrive as HTTP statuses: 404/500 with the engine's text.
function mapHttpError(ctx: FailureContext, err: unknown): Error {
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number') return err instanceof Error ? err : new Error(String(err));
  return registryFailure(ctx, engineText(err), err);
}

async function follow(stream: NodeJS.ReadableStream, onLine: (line: string) => void, signal?: AbortSignal) {
  // The request's signal ends the socket, but a stream already handed over may sit idle: destroy it too.
  const onAbort = (): void => (stream as unknown as { destroy(e?: unknown): void }).destroy(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await readProgress(stream, onLine);
    // An abort after the engine's last chunk arrived still cancels: the caller asked to stop.
    signal?.throwIfAborted();
    return result;
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function imagePresent(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}
