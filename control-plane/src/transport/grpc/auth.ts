// Bearer tokens (API clients) from gRPC metadata; agents use agent-auth.ts.
import type { Metadata } from "@grpc/grpc-js";
import { UnauthenticatedError } from "../../errors";

export function bearer(md: Metadata): string {
  const value = md.get("authorization")[0];
  if (typeof value !== "string" || !value.startsWith("Bearer ")) {
    throw new UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  return value.slice("Bearer ".length).trim();
}
