// Builder errors arrive in-band (an `error`/`errorDetail` line in a 200 response), phrased for
// BuildKit developers ("failed to solve with frontend dockerfile.v0: failed to create LLB
// definition: …"). This maps them to a stable code and a sentence a pipeline author can act
// on, keeping the builder's own text at the end so nothing is lost.

import { AgentError } from '../errors';

export type BuildErrorCode = 'dockerfile_invalid' | 'base_image_missing' | 'build_failed' | 'canceled';

/**
 * A build that did not produce an image. `code`: `dockerfile_invalid` (parse error, unknown
 * instruction, unsupported `# syntax=`), `base_image_missing` (a FROM image neither local nor
 * pullable), `build_failed` (a step failed, or the engine refused the build), `canceled`
 * (the caller's signal). `builderMessage` is the engine's text, unchanged.
 */
export class BuildError extends AgentError<BuildErrorCode> {
  override readonly name = 'BuildError';
  constructor(
    code: BuildErrorCode,
    message: string,
    readonly builderMessage = '',
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export function isBuildError(err: unknown, code?: BuildErrorCode): err is BuildError {
  return err instanceof BuildError && (code === undefined || err.code === code);
}

/**
 * Classifies a builder error message. `failedStep` is the first BuildKit step that reported
 * an error (its name, e.g. `[build 2/4] RUN make`), when the trace named one.
 */
export function toBuildError(raw: string, failedStep?: string): BuildError {
  const msg = raw.trim();
  const plain = stripSolvePrefixes(msg);

  // `# syntax=img` makes the built-in frontend fetch `img` as a gateway frontend first.
  if (/frontend gateway/i.test(msg) || /^resolve image config for /.test(failedStep ?? '')) {
    const img = /resolve image config for (\S+)/.exec(failedStep ?? '')?.[1] ?? registryRef(msg);
    return new BuildError(
      'dockerfile_invalid',
      `the Dockerfile's '# syntax=${img ? shortRef(img) : '…'}' directive asks for an external frontend image, ` +
        `which the engine's built-in Dockerfile frontend does not support (and the image cannot be pulled here): ` +
        `remove that line. Builder: ${plain}`,
      msg,
    );
  }

  const parse =
    /dockerfile parse error|unknown instruction|failed to parse dockerfile|parse error on line|unknown flag|the --mount option requires BuildKit|cannot be empty|requires (at least|exactly) (one|two) argument/i;
  if (parse.test(msg) && !/executor failed running|did not complete successfully/i.test(msg)) {
    return new BuildError('dockerfile_invalid', `the Dockerfile is invalid: ${plain}`, msg);
  }

  const base =
    /failed to resolve source metadata for ([^\s:]+(?::[\w.-]+)?(?:@sha256:[a-f0-9]+)?)/i.exec(msg)?.[1] ??
    /load metadata for ([^\s:]+(?::[\w.-]+)?)/i.exec(failedStep ?? '')?.[1] ??
    /^\[[^\]]*\] FROM\s+(?:--\S+\s+)*(\S+)/i.exec(failedStep ?? '')?.[1] ??
    /pull access denied for ([^\s,]+)/i.exec(msg)?.[1] ??
    /manifest for ([^\s]+) not found/i.exec(msg)?.[1] ??
    (/FROM|load metadata|failed to create LLB definition/i.test(`${failedStep ?? ''} ${msg}`)
      ? registryRef(msg)
      : undefined);
  if (base) {
    return new BuildError(
      'base_image_missing',
      `base image '${shortRef(base)}' is neither local nor in a reachable registry: ${plain}`,
      msg,
    );
  }

  // BuildKit: "executor failed running [/bin/sh -c exit 3]: exit code: 3" (0.8) or
  // "process ... did not complete successfully: exit code: 3" (later); classic:
  // "The command '/bin/sh -c exit 3' returned a non-zero code: 3".
  const exit = /exit code: (\d+)/i.exec(msg)?.[1] ?? /returned a non-zero code: (\d+)/i.exec(msg)?.[1];
  if (exit !== undefined) {
    const step = failedStep ?? /The command '([^']+)'/.exec(msg)?.[1] ?? /running \[([^\]]+)\]/.exec(msg)?.[1];
    return new BuildError(
      'build_failed',
      `step ${step ? `'${step}' ` : ''}failed with exit code ${exit}: ${plain}`,
      msg,
    );
  }
  return new BuildError(
    'build_failed',
    failedStep ? `step '${failedStep}' failed: ${plain}` : `build failed: ${plain}`,
    msg,
  );
}

/** `docker.io/library/alpine:3` → `alpine:3`, `docker.io/nosuch/base:1` → `nosuch/base:1`: how users write them. */
function shortRef(ref: string): string {
  return ref.replace(/^docker\.io\//, '').replace(/^library\//, '');
}

/** `Head "https://registry-1.docker.io/v2/nosuch/base/manifests/1"` → `nosuch/base:1`. */
function registryRef(msg: string): string | undefined {
  const m = /\/v2\/(.+?)\/manifests\/([^"\s]+)/.exec(msg);
  if (!m) return undefined;
  return `${m[1]}${m[2]!.startsWith('sha256:') ? '@' : ':'}${m[2]}`;
}

/**
 * Drops BuildKit's wrapper chain ("failed to solve with frontend dockerfile.v0: failed to create LLB definition: ").
 */
function stripSolvePrefixes(msg: string): string {
  return msg
    .replace(/^failed to solve with frontend [\w.]+: /i, '')
    .replace(/^failed to solve: /i, '')
    .replace(/^failed to create LLB definition: /i, '')
    .replace(/^rpc error: code = \w+ desc = /i, '');
}
