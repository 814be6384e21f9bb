/** Stable error codes shared by all Dockyard packages (see STYLE.md, Errors). */
export type DockyardErrorCode = 'not_found' | 'conflict' | 'invalid' | 'unavailable' | 'protocol_mismatch' | 'internal';

/** Base class of errors thrown by this package. */
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
