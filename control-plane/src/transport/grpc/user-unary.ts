// The wrapper of every unary RunService handler: the call has passed the access guard, so its
// user is known (callerOf); the handler gets the request and that user, and its errors are
// mapped to gRPC statuses in one place.
import type * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { callerOf, type Caller } from "./caller";
import { toServiceError } from "./errors";

export type UserUnary = <Req, Res>(fn: (req: Req, caller: Caller) => Promise<Res>) => grpc.handleUnaryCall<Req, Res>;

export function userUnary(log: Logger): UserUnary {
  return (fn) => (call, callback) => {
    (async () => fn(call.request, callerOf(call)))().then(
      (res) => callback(null, res),
      (err: unknown) => callback(toServiceError(err, log)),
    );
  };
}
