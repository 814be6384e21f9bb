// The client side of a BuildKit session, served over the engine's hijacked POST /session.
//
// Why our own and not dockerode's: dockerode 5.0.1 (lib/session.js) serves only
// moby.filesync.v1.Auth, so `RUN --mount=type=secret` finds no secret, and it has no
// health service, so BuildKit (which calls grpc.health.v1.Health/Check every few seconds and
// drops a session after failed checks) can lose the session during a long build. The same
// recipe (a grpc-js Server fed the upgraded socket through createConnectionInjector) with
// three hand-encoded services is about as short as patching dockerode's, and needs no
// .proto loading: the messages are one or two fields each.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type Docker from 'dockerode';

export interface BuildkitSession {
  readonly id: string;
  /** Closes the gRPC server and the socket. Idempotent. */
  close(): void;
}

export interface SessionOptions {
  /** Secret id → value, for `RUN --mount=type=secret,id=…`. */
  secrets?: Record<string, string>;
  /** Registry credentials for FROM of a private image; none: anonymous. */
  auth?: { username: string; password: string };
}

const METHODS = {
  health: '/grpc.health.v1.Health/Check',
  credentials: '/moby.filesync.v1.Auth/Credentials',
  getSecret: '/moby.buildkit.secrets.v1.Secrets/GetSecret',
};

/**
 * Opens a session on the engine. Resolve before posting /build (pass `id` as its `session`
 * query value); close after the build stream ends. Rejects when the engine refuses the
 * upgrade (an engine without BuildKit answers 404 or 400 here).
 */
export function openBuildkitSession(docker: Docker, opts: SessionOptions = {}): Promise<BuildkitSession> {
  const id = randomUUID();
  const secrets = new Map(Object.entries(opts.secrets ?? {}));
  return new Promise((resolve, reject) => {
    const dialOpts = {
      method: 'POST',
      path: '/session',
      hijack: true,
      headers: {
        Upgrade: 'h2c',
        'X-Docker-Expose-Session-Uuid': id,
        'X-Docker-Expose-Session-Name': 'dockyard',
        'X-Docker-Expose-Session-Sharedkey': id,
        // BuildKit asks `caller.Supports(method)` before some calls: list what we serve.
        'X-Docker-Expose-Session-Grpc-Method': Object.values(METHODS),
      },
      statusCodes: { 101: true, 200: true, 400: 'bad request', 404: 'no such endpoint', 500: 'server error' },
    };
    (docker.modem as unknown as { dial(o: unknown, cb: (err: Error | null, sock: Socket) => void): void }).dial(
      dialOpts,
      (err, socket) => {
        if (err) return reject(err);
        const server = new grpc.Server();
        server.addService(services, {
          check: (_call: unknown, cb: grpc.sendUnaryData<number>) => cb(null, 1 /* SERVING */),
          credentials: (_call: unknown, cb: grpc.sendUnaryData<{ username: string; secret: string }>) =>
            cb(null, { username: opts.auth?.username ?? '', secret: opts.auth?.password ?? '' }),
          getSecret: (call: grpc.ServerUnaryCall<string, Uint8Array>, cb: grpc.sendUnaryData<Uint8Array>) => {
            const value = secrets.get(call.request);
            if (value === undefined) {
              // NOT_FOUND is what BuildKit maps to "secret not found" (or skips for optional mounts).
              return cb({ code: grpc.status.NOT_FOUND, details: `secret ${call.request} was not given to this build` });
            }
            cb(null, Buffer.from(value, 'utf8'));
          },
        });
        server.createConnectionInjector(grpc.ServerCredentials.createInsecure()).injectConnection(socket);
        let closed = false;
        resolve({
          id,
          close() {
            if (closed) return;
            closed = true;
            server.forceShutdown();
            socket.destroy();
          },
        });
      },
    );
  });
}

// Hand-written codecs. Field numbers are from BuildKit's session protos:
// health.proto (status = 1), auth.proto (Host = 1; Username = 1, Secret = 2),
// secrets.proto (ID = 1, annotations = 2; data = 1).
// grpc-js takes an undefined message for a missing one (UNIMPLEMENTED): return a placeholder.
const ignoreRequest = () => ({});

function readStringField(buf: Buffer, field: number): string {
  const r = new BinaryReader(buf);
  let out = '';
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === field && wt === WireType.LengthDelimited) out = r.string();
    else r.skip(wt);
  }
  return out;
}

const services: grpc.ServiceDefinition = {
  check: {
    path: METHODS.health,
    requestStream: false,
    responseStream: false,
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: ignoreRequest,
    responseSerialize: (status: number) =>
      Buffer.from(new BinaryWriter().tag(1, WireType.Varint).int32(status).finish()),
    responseDeserialize: ignoreRequest,
  },
  credentials: {
    path: METHODS.credentials,
    requestStream: false,
    responseStream: false,
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: (b: Buffer) => readStringField(b, 1),
    responseSerialize: (r: { username: string; secret: string }) => {
      const w = new BinaryWriter();
      if (r.username) w.tag(1, WireType.LengthDelimited).string(r.username);
      if (r.secret) w.tag(2, WireType.LengthDelimited).string(r.secret);
      return Buffer.from(w.finish());
    },
    responseDeserialize: ignoreRequest,
  },
  getSecret: {
    path: METHODS.getSecret,
    requestStream: false,
    responseStream: false,
    requestSerialize: () => Buffer.alloc(0),
    requestDeserialize: (b: Buffer) => readStringField(b, 1),
    responseSerialize: (data: Uint8Array) =>
      Buffer.from(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(data).finish()),
    responseDeserialize: ignoreRequest,
  },
};
