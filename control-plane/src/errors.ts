// Control-plane errors. Each edge (gRPC, HTTP, NATS) maps `code` in one table.
// They extend the one DockyardError of @dockyard/pipeline, which the pipeline's own errors extend too.
import { DockyardError, type DockyardErrorCode } from "@dockyard/pipeline";

export { DockyardError };
export type ErrorCode = DockyardErrorCode;

export class NotFoundError extends DockyardError {
  /** `message` replaces the default `<kind> not found: <id>` when it can say more (what does exist). */
  constructor(
    readonly kind: string,
    readonly id: string,
    message = `${kind} not found: ${id}`,
  ) {
    super("not_found", message);
  }
}

/** The request contradicts the object's state, e.g. canceling a run that already finished. Nothing was changed. */
export class ConflictError extends DockyardError {
  constructor(
    message: string,
    readonly state?: string,
  ) {
    super("conflict", message);
  }
}

export class InvalidError extends DockyardError {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super("invalid", message);
  }
}

/** The caller is known but may not do this (an approval decided by someone not listed). Nothing was changed. */
export class ForbiddenError extends DockyardError {
  constructor(message: string) {
    super("permission_denied", message);
  }
}

export class UnauthenticatedError extends DockyardError {
  constructor(message: string) {
    super("unauthenticated", message);
  }
}

/**
 * An agent reported on an attempt that was canceled (by the user, or by the agent's own
 * `canceled` end) under the lease it still holds. Not a stale write: the lease was valid
 * until the cancel, and reports in flight after it are expected. The attempt stream
 * answers them (cancel, then acks) instead of refusing them, and does not count them.
 */
export class AttemptCanceledError extends DockyardError {
  constructor(
    readonly attemptId: string,
    readonly reason: string,
    readonly logSeq: number,
  ) {
    super("conflict", `attempt ${attemptId} was canceled: ${reason}`);
  }
}

/** A write carried a lease that is not (or no longer) the attempt's live lease. */
export class StaleLeaseError extends DockyardError {
  constructor(
    readonly attemptId: string,
    why: string,
  ) {
    super("stale_lease", `stale lease for attempt ${attemptId}: ${why}`);
  }
}

/** The caller is known but its roles do not allow the call. */
export class PermissionDeniedError extends DockyardError {
  constructor(message: string) {
    super("permission_denied", message);
  }
}
