// Control-plane errors. Each edge (gRPC, HTTP, NATS) maps `code` in one table.

export type ErrorCode =
  | "not_found" | "conflict" | "invalid" | "unavailable" | "protocol_mismatch"
  | "unauthenticated" | "permission_denied" | "stale_lease" | "internal";

export class DockyardError extends Error {
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DockyardError {
  constructor(readonly kind: string, readonly id: string) {
    super("not_found", `${kind} not found: ${id}`);
  }
}

export class InvalidError extends DockyardError {
  constructor(message: string, readonly problems: string[] = []) {
    super("invalid", message);
  }
}

export class UnauthenticatedError extends DockyardError {
  constructor(message: string) {
    super("unauthenticated", message);
  }
}

/** A write carried a lease that is not (or no longer) the attempt's live lease. */
export class StaleLeaseError extends DockyardError {
  constructor(readonly attemptId: string, why: string) {
    super("stale_lease", `stale lease for attempt ${attemptId}: ${why}`);
  }
}

export class ProtocolMismatchError extends DockyardError {
  constructor(readonly agentVersion: number, readonly serverVersion: number) {
    super("protocol_mismatch", `agent speaks protocol ${agentVersion}, server speaks ${serverVersion}`);
  }
}
