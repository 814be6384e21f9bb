// Bearer tokens from gRPC metadata.
import type { Metadata } from "@grpc/grpc-js";
import { UnauthenticatedError } from "../../errors";

export function bearer(md: Metadata): string {
  const value = md.get("authorization")[0];
  if (typeof value !== "string" || !value.startsWith("Bearer ")) {
    throw new UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  return value.slice("Bearer ".length).trim();
}

export function agentIdFrom(md: Metadata): string {
  const value = md.get("x-dockyard-agent-id")[0];
  if (typeof value !== "string" || value.length === 0 || value.length > 64) {
    throw new UnauthenticatedError("missing 'x-dockyard-agent-id' metadata");
  }
  return value;
}
