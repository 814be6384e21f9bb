// Builds an image on the engine with BuildKit (POST /build?version=2 plus our own /session,
// see buildkit-session.ts), falling back to the classic builder only when the engine refuses
// BuildKit. The response is a stream of JSON lines; errors come in-band in a 200 response,
// so every line is inspected rather than trusting the HTTP status.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { SecretMasker } from '../secrets/masker';
import { BuildError, toBuildError } from './build-error';
import { openBuildkitSession, type BuildkitSession } from './buildkit-session';
import { decodeStatus, TraceFormatter } from './buildkit-trace';

export interface BuildImageOptions {
  /** A tar of the context (e.g. packContext(dir)); consumed once. */
  context: NodeJS.ReadableStream;
  /** Path of the Dockerfile inside the context (default `Dockerfile`). */
  dockerfile?: string;
  /** Stage to stop at in a multi-stage Dockerfile; stages it does not need are skipped. */
  target?: string;
  buildArgs?: Record<string, string>;
  /** Names for the result, e.g. `['app:1', 'app:latest']`. */
  tags: string[];
  /** Secret id → value for `RUN --mount=type=secret,id=…`; masked in every onLine line. BuildKit only. */
  secrets?: Record<string, string>;
  /** Network of RUN steps (default `none`: the build cannot reach the agent's network). */
  networkMode?: 'none' | 'host';
  /** Aborting cancels the build on the engine; buildImage then rejects with BuildError `canceled`. */
  signal?: AbortSignal;
  /** One call per readable line of builder output, in order. Must not throw. */
  onLine: (line: string) => void;
  /** `auto` (default): BuildKit unless the engine refuses it. `classic`: the legacy builder only. */
  builder?: 'auto' | 'classic';
}

export interface BuildImageResult {
  imageId: string;
  sizeBytes: number;
  layers: number;
  builder: 'buildkit' | 'classic';
}

type Modem = {
  dial(opts: unknown, cb: (err: (Error & { statusCode?: number }) | null, res: IncomingMessage) => void): void;
};

/**
 * Builds `opts.context` and tags the result with every tag. Resolves once the image exists,
 * with its id, size and layer count (from inspect). Throws BuildError (see build-error.ts);
 * a lost engine connection is rethrown as a plain error. One call per build; calls may run
 * concurrently (each opens its own session).
 */
export async function buildImage(docker: Docker, opts: BuildImageOptions): Promise<BuildImageResult> {
  const masker = new SecretMasker(Object.values(opts.secrets ?? {}).map((v) => Buffer.from(v, 'utf8')));
  const onLine = (line: string) => opts.onLine(masker.maskText(line));
  if (opts.signal?.aborted) throw canceled();

  let builder: 'buildkit' | 'classic' = opts.builder === 'classic' ? 'classic' : 'buildkit';
  let imageId: string | undefined;
  if (builder === 'buildkit') {
    const session = await openBuildkitSession(docker, { secrets: opts.secrets }).catch(
      (err: Error & { statusCode?: number }) => {
        if (refusesBuildkit(err)) return null;
        throw err;
      },
    );
    if (session) {
      try {
        imageId = await runBuild(docker, opts, 'buildkit', onLine, session);
      } catch (err) {
        // Only before the engine has read any context byte can the same stream be retried.
        if (!(refusesBuildkit(err) && !Readable.isDisturbed(opts.context))) throw err;
        builder = 'classic';
      } finally {
        session.close();
      }
    } else builder = 'classic';
    if (builder === 'classic') onLine('BuildKit is not available on this engine; using the classic builder');
  }
  if (builder === 'classic') {
    if (Object.keys(opts.secrets ?? {}).length > 0) {
      throw new BuildError(
        'build_failed',
        'the classic builder cannot pass build secrets (RUN --mount=type=secret needs BuildKit)',
      );
    }
    imageId = await runBuild(docker, opts, 'classic', onLine);
  }

  const ref = imageId ?? opts.tags[0];
  if (!ref)
    throw new BuildError(
      'build_failed',
      'the builder reported success but no image id, and there is no tag to look it up',
    );
  const info = await docker.getImage(ref).inspect();
  return { imageId: info.Id, sizeBytes: info.Size, layers: info.RootFS?.Layers?.length ?? 0, builder };
}

async function runBuild(
  docker: Docker,
  opts: BuildImageOptions,
  builder: 'buildkit' | 'classic',
  onLine: (line: string) => void,
  session?: BuildkitSession,
): Promise<string | undefined> {
  const buildId = randomUUID();
  const query: Record<string, unknown> = {
    t: opts.tags,
    dockerfile: opts.dockerfile ?? 'Dockerfile',
    networkmode: opts.networkMode ?? 'none',
    rm: true,
    forcerm: true,
    version: builder === 'buildkit' ? '2' : '1',
  };
  if (opts.target) query.target = opts.target;
  if (opts.buildArgs && Object.keys(opts.buildArgs).length > 0) query.buildargs = opts.buildArgs;
  if (session) {
    query.session = session.id;
    query.buildid = buildId; // lets an abort name the build in POST /build/cancel
  }

  const abort = new AbortController();
  const onAbort = () => {
    if (session) {
      // BuildKit stops the solve on /build/cancel; dropping the connection alone also
      // cancels it (request context), so a failed cancel call changes nothing.
      docker.modem.dial(
        {
          path: `/build/cancel?id=${encodeURIComponent(buildId)}`,
          method: 'POST',
          statusCodes: { 200: true, 404: true, 500: true },
        },
        () => undefined,
      );
    }
    abort.abort();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      (docker.modem as unknown as Modem).dial(
        {
          path: '/build?',
          method: 'POST',
          file: opts.context,
          options: query,
          isStream: true,
          abortSignal: abort.signal,
          statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
        },
        (err, r) => (err ? reject(err) : resolve(r)),
      ),
    );
    return await readProgress(res, onLine);
  } catch (err) {
    if (opts.signal?.aborted) throw canceled(err);
    if (err instanceof BuildError || refusesBuildkit(err)) throw err;
    const e = err as Error & { statusCode?: number; json?: { message?: string } };
    // A 4xx/5xx before the stream: the engine rejected the request (bad option, bad tag…).
    if (e.statusCode) throw toBuildError((e.json?.message ?? e.message).replace(/^\(HTTP code \d+\) [^-]*- /, ''));
    throw err;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Reads the JSON-lines progress until the end; returns the image id, or throws the in-band error. */
async function readProgress(res: IncomingMessage, onLine: (line: string) => void): Promise<string | undefined> {
  const trace = new TraceFormatter(onLine);
  let imageId: string | undefined;
  let error: string | undefined;
  let classicStep: string | undefined;
  let rest = '';
  const handle = (raw: string) => {
    if (!raw.trim()) return;
    let msg: { id?: string; aux?: unknown; stream?: string; error?: string; errorDetail?: { message?: string } };
    try {
      msg = JSON.parse(raw);
    } catch {
      return onLine(raw); // not JSON: show it rather than lose it
    }
    if (msg.id === 'moby.buildkit.trace' && typeof msg.aux === 'string') {
      trace.push(decodeStatus(Buffer.from(msg.aux, 'base64')));
    } else if (msg.aux && typeof msg.aux === 'object' && 'ID' in msg.aux) {
      imageId = String((msg.aux as { ID: string }).ID); // moby.image.id (BuildKit) or the classic builder's aux
    } else if (msg.error || msg.errorDetail) {
      error ??= msg.errorDetail?.message || msg.error || 'unknown error';
    } else if (typeof msg.stream === 'string') {
      for (const line of msg.stream.split('\n')) {
        if (!line.trim()) continue;
        // Classic builder: "Step 2/3 : RUN make" names the step an error will belong to.
        const step = /^Step (\d+\/\d+) : (.*)$/.exec(line);
        if (step) classicStep = `[${step[1]}] ${step[2]}`;
        onLine(line.trimEnd());
      }
    }
  };
  res.setEncoding('utf8');
  for await (const chunk of res as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    lines.forEach(handle);
  }
  handle(rest);
  trace.end();
  if (error !== undefined) throw toBuildError(error, trace.failed?.name ?? classicStep);
  return imageId;
}

/** The engine cannot do BuildKit builds: no /session, or /build refusing version 2. */
function refusesBuildkit(err: unknown): boolean {
  const e = err as { statusCode?: number; message?: string } | undefined;
  if (!e?.statusCode) return false;
  return e.statusCode === 404 || /buildkit|session|builder version/i.test(e.message ?? '');
}

function canceled(cause?: unknown): BuildError {
  return new BuildError('canceled', 'the build was canceled', '', { cause });
}
