// The refusals of request input shared by the routes: a 400 (`invalid`) naming the parameter or
// field (the schemas are in fields.ts, their checking in validate.ts), and a body over its bound,
// a 413 before it is read.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ErrorBody } from "../types";

/** A 400 (`invalid`); `field` names the parameter or body field at fault (answered as `error.field`). */
export function invalid(message: string, field?: string): Error & { code: string; field?: string } {
  return Object.assign(new Error(message), { code: "invalid" }, field === undefined ? {} : { field });
}

/**
 * Refuses a request body over `maxBytes` with 413 before reading it (chunked bodies too). The answer closes the
 * connection: the unread rest of the body must not be taken for the client's next request on it.
 */
export function smallBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json(
        {
          error: { code: "too_large", message: `request body exceeds the limit of ${maxBytes} bytes` },
        } satisfies ErrorBody,
        413,
        { connection: "close" },
      ),
  });
}
