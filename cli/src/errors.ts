// Errors the CLI reports to the user, and the one table that maps gRPC status
// codes to messages and exit codes.
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { ServiceError } from "@grpc/grpc-js";

/** Exit code for a failed command (server said no, run failed, I/O error). */
export const EXIT_FAILURE = 1;
/** Exit code for a usage error (bad flag, bad argument), as commander uses. */
export const EXIT_USAGE = 2;

/**
 * An error whose message is meant for the user as is (no stack). `exitCode`
 * is what the process exits with; `cause` keeps the original error;
 * `verbatim` messages (problem lists) are printed without the "error: " prefix.
 */
export class CliError extends Error {
  readonly verbatim: boolean;

  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    options?: { cause?: unknown; verbatim?: boolean },
  ) {
    super(message, options);
    this.name = "CliError";
    this.verbatim = options?.verbatim ?? false;
  }
}

/** What main prints for a CliError on stderr. */
export function errorText(err: CliError): string {
  const text = err.verbatim ? err.message : `error: ${err.message}`;
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** A bad argument or flag detected by the CLI itself; exits with 2. */
export class UsageError extends CliError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT_USAGE, options);
    this.name = "UsageError";
  }
}

/** What a gRPC error is about, so its message can name the server and the object. */
export interface ErrorContext {
  /** Address the client dialled, for UNAVAILABLE messages. */
  server: string;
  /** Message for NOT_FOUND, e.g. "run not found: r-1". */
  notFound?: string;
  /**
   * Use the server's NOT_FOUND message instead of `notFound` when a Dockyard server sent one
   * (it says more: `run r-1 has no stage 'x' (stages: a, b)`); `notFound` stays the fallback.
   */
  preferServerNotFound?: boolean;
}

/** True for grpc-js errors (they carry a numeric `code` and a `details` text). */
export function isGrpcError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === "number" &&
    typeof (err as Partial<ServiceError>).details === "string"
  );
}

/** The status name of a grpc-js code ("UNAVAILABLE"), or the number as text. */
export function statusName(code: number): string {
  return (GrpcStatus as unknown as Record<number, string>)[code] ?? String(code);
}

/**
 * Turns any error from a call into a CliError with a clear message. grpc
 * status codes map through one table; other errors keep their message.
 */
export function describeError(err: unknown, ctx: ErrorContext): CliError {
  if (err instanceof CliError) return err;
  if (!isGrpcError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new CliError(message, EXIT_FAILURE, { cause: err });
  }
  const details = err.details.trim();
  const withDetails = (msg: string) => (details ? `${msg}: ${details}` : msg);
  let message: string;
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      message = `cannot reach server at ${ctx.server} (UNAVAILABLE)`;
      break;
    case GrpcStatus.UNAUTHENTICATED:
      message = details
        ? `unauthenticated (${details}): check --token/DOCKYARD_TOKEN`
        : "unauthenticated: check --token/DOCKYARD_TOKEN";
      break;
    case GrpcStatus.PERMISSION_DENIED:
      message = withDetails("permission denied");
      break;
    case GrpcStatus.NOT_FOUND:
      message =
        (ctx.preferServerNotFound && details && fromDockyardServer(err) ? details : ctx.notFound) ??
        withDetails("not found");
      break;
    case GrpcStatus.DEADLINE_EXCEEDED:
      message = `server at ${ctx.server} did not answer in time (DEADLINE_EXCEEDED)`;
      break;
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.ALREADY_EXISTS:
      message = details || statusName(err.code).toLowerCase();
      break;
    case GrpcStatus.UNIMPLEMENTED:
      message = `server at ${ctx.server} does not support this call (UNIMPLEMENTED); is it the same version?`;
      break;
    default:
      message = withDetails(`server error (${statusName(err.code)})`);
  }
  return new CliError(message, EXIT_FAILURE, { cause: err });
}

/** True when the error carries the `dockyard-error-code` trailer: its details were written for users. */
function fromDockyardServer(err: ServiceError): boolean {
  return (err.metadata?.get("dockyard-error-code") ?? []).length > 0;
}

/**
 * Whether a failed WatchRun stream is worth reopening: the server went away or
 * the connection broke, as opposed to the server refusing the request.
 */
export function isRetryable(err: unknown): boolean {
  if (isGrpcError(err)) {
    return (
      err.code === GrpcStatus.UNAVAILABLE ||
      err.code === GrpcStatus.INTERNAL ||
      err.code === GrpcStatus.ABORTED ||
      // A server shutting down cancels open streams; our own cancel() never reaches here.
      err.code === GrpcStatus.CANCELLED ||
      (err.code === GrpcStatus.UNKNOWN && /ECONNRESET|socket hang up/i.test(err.details))
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ECONNRESET" || code === "ECONNREFUSED" || code === "EPIPE";
}

/** True for run states after which nothing more happens to a run. */
export { isTerminalRun as isTerminalState } from "@dockyard/web";

/**
 * Process exit code mirroring a finished run: 0 for succeeded, 1 for
 * failed/errored/canceled and for anything unexpected (never report success
 * for a state we do not know).
 */
export function exitCodeForState(state: string): number {
  return state === "succeeded" ? 0 : EXIT_FAILURE;
}
