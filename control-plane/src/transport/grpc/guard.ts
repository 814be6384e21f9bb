// The one access guard of the gRPC edge: wraps every handler of a service with the check its
// method's entry in the access table asks for. Agent methods pass through (agent-auth.ts
// checks the agent's identity); user methods need a bearer token whose user holds the role;
// a method with no entry is refused, whatever the caller presents.
import * as grpc from "@grpc/grpc-js";
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { grpcAccess, type Access } from "../../access/role-table";
import { hasRole } from "../../access/roles";
import { PermissionDeniedError } from "../../errors";
import { bearer } from "./auth";
import { setCaller, type Caller } from "./caller";
import { toServiceError } from "./errors";

type AnyCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;
type AnyHandler = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => void;

export type Authenticate = (token: string) => Promise<Caller>;

/** Check the call against `access`; resolves with the caller it may act as. */
export async function authorize(
  access: Access | undefined,
  method: string,
  metadata: grpc.Metadata,
  authenticate: Authenticate,
): Promise<Caller> {
  if (access === undefined) throw new PermissionDeniedError(`${method} has no entry in the access table; refused`);
  if (access === "webhook")
    throw new PermissionDeniedError(`${method} is marked webhook, which only HTTP routes may be; refused`);
  const caller = await authenticate(bearer(metadata));
  if (access !== "public" && access !== "agent" && !hasRole(caller.roles, access)) {
    throw new PermissionDeniedError(
      `${method} needs the '${access}' role; user '${caller.user}' has ${caller.roles.join(", ") || "none"}`,
    );
  }
  return caller;
}

export function guardService<H extends object>(
  service: DescService,
  handlers: H,
  authenticate: Authenticate,
  log: Logger,
): H {
  const source = handlers as unknown as Record<string, AnyHandler>;
  const out: Record<string, AnyHandler> = {};
  for (const method of service.methods) {
    const access = grpcAccess(service.typeName, method.name);
    const original = source[method.localName];
    if (access === "agent" && original) {
      out[method.localName] = original;
      continue;
    }
    const name = `${service.typeName}/${method.name}`;
    out[method.localName] = (call, callback) => {
      authorize(access, name, call.metadata, authenticate).then(
        (caller) => {
          setCaller(call, caller);
          if (!original) throw new Error(`no handler for ${name}`);
          original(call, callback);
        },
        (err: unknown) => {
          const error = toServiceError(err, log);
          if (callback) callback(error);
          else (call as grpc.ServerWritableStream<unknown, unknown>).emit("error", error);
        },
      );
    };
  }
  return out as unknown as H;
}
