/**
 * Stable error codes shared by all Dockyard packages. Each edge maps them in one table
 * (gRPC status in control-plane/src/transport/grpc/errors.ts, HTTP status in the web app).
 */
export type DockyardErrorCode =
  | 'not_found'
  | 'conflict'
  | 'invalid'
  | 'unavailable'
  | 'protocol_mismatch'
  | 'unauthenticated'
  | 'permission_denied'
  | 'stale_lease'
  | 'internal';

/**
 * The one base class of Dockyard's errors: a stable `code`, a message written for the user,
 * and the `cause`. This package (which every other one depends on) holds it, so an error
 * thrown here and one thrown by the control plane are both mapped by their code.
 */
export class DockyardError extends Error {
  constructor(
    readonly code: DockyardErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown by {@link topologicalOrder} when the stages do not form a DAG (unknown need or cycle). */
export class InvalidStageGraphError extends DockyardError {
  constructor(
    message: string,
    /** The cycle as a path that ends where it starts, e.g. `['a', 'b', 'a']`; empty for an unknown need. */
    readonly cycle: string[] = [],
  ) {
    super('invalid', message);
  }
}
