/**
 * Errors of the agent's registry tools (push/pull). `code` is stable and says what the user
 * must fix: `auth_failed` (credentials), `unreachable` (address, network, registry down),
 * `rejected` (the registry refused the request, e.g. read-only), `not_found` (the image is not
 * in the registry, or a push names a local image that does not exist). The message is
 * written for the person reading the build log and always ends with the engine's own words.
 */
import { AgentError } from '../errors';
export type RegistryErrorCode = 'auth_failed' | 'unreachable' | 'rejected' | 'not_found';

export class RegistryError extends AgentError<RegistryErrorCode> {
  override readonly name = 'RegistryError';
}

export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}

// dockerd reports registry failures as free text (in-band `errorDetail` lines on push, an HTTP
// 404/500 body on pull), so the code is read from the text. Order matters: a missing-credentials
// message also names the manifest URL, and auth must win over "not found".
const AUTH =
  /no basic auth credentials|unauthorized|authentication required|incorrect username or password|status 401|\b401 Unauthorized/i;
const UNREACHABLE =
  /connection refused|no such host|i\/o timeout|dial tcp|connection reset|network is unreachable|no route to host|context deadline exceeded|server gave HTTP response to HTTPS client|TLS handshake|EOF$/i;
const NOT_FOUND =
  /manifest unknown|not found|name unknown|does not exist locally|no such image|repository does not exist/i;

export function classifyEngineMessage(message: string): RegistryErrorCode {
  if (AUTH.test(message)) return 'auth_failed';
  if (UNREACHABLE.test(message)) return 'unreachable';
  if (NOT_FOUND.test(message)) return 'not_found';
  return 'rejected';
}

export interface FailureContext {
  op: 'push' | 'pull';
  ref: string;
  server: string;
  /** Whether the caller gave credentials: changes the auth hint. */
  hadCredentials: boolean;
  /** Scrubbed from every message, in case an engine ever echoes it. */
  password?: string;
}

/** Builds the RegistryError for one engine message. */
export function registryFailure(ctx: FailureContext, engineMessage: string, cause?: unknown): RegistryError {
  const raw = scrub(engineMessage.trim(), ctx.password);
  const code = classifyEngineMessage(raw);
  const what = describe(code, ctx, raw);
  return new RegistryError(
    code,
    `${ctx.op} of ${ctx.ref} failed: ${what} (${raw})`,
    cause === undefined ? undefined : { cause: scrubCause(cause, ctx.password) },
  );
}

function describe(code: RegistryErrorCode, ctx: FailureContext, raw: string): string {
  switch (code) {
    case 'auth_failed':
      return ctx.hadCredentials
        ? `wrong username or password for ${ctx.server}`
        : `${ctx.server} needs a username and password and none were given`;
    case 'unreachable':
      return `registry ${ctx.server} is unreachable (is the address right and the registry running?)`;
    case 'not_found':
      if (ctx.op === 'push' && /does not exist locally|no such image/i.test(raw))
        return `there is no local image ${ctx.ref} to push`;
      return `${ctx.ref} is not in registry ${ctx.server}`;
    case 'rejected':
      return `registry ${ctx.server} refused the ${ctx.op}`;
  }
}

/** dockerode errors read "(HTTP code 500) server error - <engine text>": keep the engine text. */
export function engineText(err: unknown): string {
  const e = err as { json?: { message?: unknown } | null; message?: unknown };
  if (e?.json && typeof e.json.message === 'string') return e.json.message;
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  return msg.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '');
}

function scrub(text: string, password: string | undefined): string {
  return password ? text.split(password).join('***') : text;
}

// The cause is kept for debugging, but a dockerode error carries the request options
// (authconfig included) on some paths: keep only its message and status.
function scrubCause(cause: unknown, password: string | undefined): unknown {
  if (!(cause instanceof Error)) return cause;
  const clean = new Error(scrub(cause.message, password));
  const statusCode = (cause as { statusCode?: unknown }).statusCode;
  if (statusCode !== undefined) Object.assign(clean, { statusCode });
  return clean;
}
