// A client for a list of server replicas: calls go to one of them, and a call
// that finds it unreachable moves the client to the next one, so agents and the
// CLI fail over within one failed call. Each entry may also be a DNS name that
// resolves to several addresses (grpc-js's pick_first tries them in turn).
import * as grpc from "@grpc/grpc-js";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { createClient, type TypedClient } from "./grpc";

/** Codes that say "this replica is not there", as opposed to a refusal from a live one. */
const UNREACHABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

export function isUnreachable(err: unknown): boolean {
  return UNREACHABLE.has((err as grpc.ServiceError | null)?.code as grpc.status);
}

/** `host:port[,host:port...]`: every entry checked, duplicates dropped. Throws naming a bad entry. */
export function parseServerList(text: string): string[] {
  const list = [
    ...new Set(
      text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (list.length === 0) throw new Error("no server address given");
  for (const a of list) {
    if (!/^(\[[0-9a-fA-F:]+\]|[^\s/:,]+):\d{1,5}$/.test(a))
      throw new Error(`server address '${a.slice(0, 80)}' must be host:port`);
  }
  return list;
}

export type FailoverClient<S extends GenServiceMethods> = TypedClient<S> & {
  /** The address calls go to now. */
  readonly address: string;
  /** Move to the next replica (a stream on this one broke, say). */
  rotate(from?: string): void;
};

/**
 * One TypedClient per address; methods delegate to the current one. A unary call
 * that fails as unreachable rotates (the caller's retry goes to the next replica);
 * a stream that ends as unreachable does the same.
 */
export function createFailoverClient<S extends GenServiceMethods>(
  service: GenService<S>,
  addresses: string[],
  options: { credentials?: grpc.ChannelCredentials; metadata?: () => grpc.Metadata } = {},
): FailoverClient<S> {
  const clients = addresses.map((a) => createClient(service, a, options));
  let current = 0;
  const rotate = (from?: string) => {
    if (from !== undefined && from !== addresses[current]) return; // someone rotated already
    current = (current + 1) % clients.length;
  };
  const out: Record<string, unknown> = {
    get address() {
      return addresses[current];
    },
    rotate,
    close: () => clients.forEach((c) => c.close()),
    get raw() {
      return clients[current]!.raw;
    },
  };
  for (const method of service.methods) {
    const name = method.localName;
    out[name] = (...args: unknown[]) => {
      const at = addresses[current]!;
      const fn = (clients[current] as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
      const result = fn(...args);
      if (result instanceof Promise) {
        return result.catch((err: unknown) => {
          if (isUnreachable(err) && clients.length > 1) rotate(at);
          throw err;
        });
      }
      (result as NodeJS.EventEmitter).on("error", (err: unknown) => {
        if (isUnreachable(err) && clients.length > 1) rotate(at);
      });
      return result;
    };
  }
  return out as unknown as FailoverClient<S>;
}
