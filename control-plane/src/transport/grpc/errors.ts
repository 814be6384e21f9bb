// DockyardError code -> gRPC status, in one table. Unknown errors become
// INTERNAL with a generic message (the stack goes to the log, not the client).
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { DockyardError, type ErrorCode } from "../../errors";
import { isDbUnavailable } from "../../store/db";

const STATUS: Record<ErrorCode, status> = {
  not_found: status.NOT_FOUND,
  // Not ABORTED: clients retry that; a conflict (cancel of a finished run) is final.
  conflict: status.FAILED_PRECONDITION,
  invalid: status.INVALID_ARGUMENT,
  unavailable: status.UNAVAILABLE,
  protocol_mismatch: status.FAILED_PRECONDITION,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  stale_lease: status.FAILED_PRECONDITION,
  internal: status.INTERNAL,
};

export function toServiceError(err: unknown, log: Logger): Partial<ServiceError> {
  if (err instanceof DockyardError) {
    const metadata = new Metadata();
    metadata.set("dockyard-error-code", err.code);
    return { code: STATUS[err.code], details: err.message, metadata };
  }
  if (isDbUnavailable(err))
    return { code: status.UNAVAILABLE, details: "the database is unavailable; try again shortly" };
  log.error({ err }, "unexpected error in gRPC handler");
  return { code: status.INTERNAL, details: "internal error; see the server log" };
}
