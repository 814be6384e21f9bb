// grpc-js wiring for the protobuf-es generated descriptors: protobuf-es v2 emits
// schemas and service descriptors but no grpc-js stubs, so we build the
// ServiceDefinition (server side) and a small typed client (client side) here.
import * as grpc from "@grpc/grpc-js";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";

/**
 * Largest message either side accepts. Log chunks are far smaller; it is
 * above the pipeline file limit so that an oversized file reaches the server
 * and is refused with a message naming that limit.
 */
export const MAX_MESSAGE_BYTES = 40 * 1024 * 1024;

function serializer(schema: DescMessage) {
  return (msg: unknown) => Buffer.from(toBinary(schema, msg as never));
}

function deserializer(schema: DescMessage) {
  return (buf: Buffer) => fromBinary(schema, buf);
}

function methodDefinition(service: DescService, method: DescMethod): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/${service.typeName}/${method.name}`,
    originalName: method.localName,
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: serializer(method.input),
    requestDeserialize: deserializer(method.input),
    responseSerialize: serializer(method.output),
    responseDeserialize: deserializer(method.output),
  };
}

/** The grpc-js definition of a generated service, keyed by each method's lowerCamel name. */
export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) def[method.localName] = methodDefinition(service, method);
  return def as grpc.ServiceDefinition;
}

type In<M extends GenServiceMethods[string]> = MessageShape<M["input"]>;
type Out<M extends GenServiceMethods[string]> = MessageShape<M["output"]>;
type Init<M extends GenServiceMethods[string]> = MessageInitShape<M["input"]>;

export interface CallOptions {
  /** Per-call deadline in milliseconds from now. */
  timeoutMs?: number;
  metadata?: grpc.Metadata;
}

/** Server-side handler types for a generated service. */
export type ServiceHandlers<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary"
    ? grpc.handleUnaryCall<In<S[K]>, Out<S[K]>>
    : S[K]["methodKind"] extends "server_streaming"
      ? grpc.handleServerStreamingCall<In<S[K]>, Out<S[K]>>
      : S[K]["methodKind"] extends "client_streaming"
        ? grpc.handleClientStreamingCall<In<S[K]>, Out<S[K]>>
        : grpc.handleBidiStreamingCall<In<S[K]>, Out<S[K]>>;
};

/** Client methods: unary calls return promises, streams return grpc-js streams. */
export type TypedClient<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary"
    ? (req: Init<S[K]>, opts?: CallOptions) => Promise<Out<S[K]>>
    : S[K]["methodKind"] extends "server_streaming"
      ? (req: Init<S[K]>, opts?: CallOptions) => grpc.ClientReadableStream<Out<S[K]>>
      : (opts?: CallOptions) => grpc.ClientDuplexStream<In<S[K]>, Out<S[K]>>;
} & { close(): void; raw: grpc.Client };

function callOptions(opts?: CallOptions): grpc.CallOptions {
  return opts?.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {};
}

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Reconnect fast after a server restart: grpc-js's default backoff grows to 120 s, far
  // past a lease TTL, and an agent must renew its leases within one.
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.max_reconnect_backoff_ms": 2_000,
  "grpc.keepalive_time_ms": 20_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  // No service config in DNS: grpc-js would look up TXT _grpc_config.<host> for every name.
  // Inside a compose network Docker's resolver forwards that query to the host's upstream,
  // and where none answers each CLI call waited 25 s for it (ops/compose).
  "grpc.service_config_disable_resolution": 1,
};

/**
 * A typed client for `service` at `address` ("host:port"). `metadata` is
 * attached to every call (authorization); per-call metadata is merged over it.
 */
export function createClient<S extends GenServiceMethods>(
  service: GenService<S>,
  address: string,
  options: { credentials?: grpc.ChannelCredentials; metadata?: () => grpc.Metadata } = {},
): TypedClient<S> {
  const Ctor = grpc.makeGenericClientConstructor(serviceDefinition(service), service.name);
  const raw = new Ctor(address, options.credentials ?? grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const client: Record<string, unknown> = { close: () => raw.close(), raw };
  const metadataFor = (opts?: CallOptions) => {
    const md = options.metadata?.() ?? new grpc.Metadata();
    if (opts?.metadata) md.merge(opts.metadata);
    return md;
  };
  for (const method of service.methods) {
    const fn = (raw as unknown as Record<string, (...args: unknown[]) => unknown>)[method.localName]!.bind(raw);
    if (method.methodKind === "unary") {
      client[method.localName] = (req: never, opts?: CallOptions) =>
        new Promise((resolve, reject) => {
          fn(
            create(method.input, req),
            metadataFor(opts),
            callOptions(opts),
            (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)),
          );
        });
    } else if (method.methodKind === "server_streaming") {
      client[method.localName] = (req: never, opts?: CallOptions) =>
        fn(create(method.input, req), metadataFor(opts), callOptions(opts));
    } else {
      client[method.localName] = (opts?: CallOptions) => fn(metadataFor(opts), callOptions(opts));
    }
  }
  return client as TypedClient<S>;
}
