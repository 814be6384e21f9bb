// certFingerprint, fetchPinnedCa and the grpc credentials against a fixed
// self-signed certificate (P-256, CA:TRUE, SAN 127.0.0.1/localhost, valid
// until 2126; made with openssl req -x509). Key and cert are test-only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer as createTcpServer, type AddressInfo, type Server as NetServer } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { certFingerprint, clientTlsCredentials, fetchPinnedCa, serverTlsCredentials } from "./tls";

const CERT = `-----BEGIN CERTIFICATE-----
MIIBuTCCAV+gAwIBAgIUTxlUdRort5PKKibhTwkjvyGM4NEwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQdGxzIHRlc3QgZml4dHVyZTAgFw0yNjEyMDEyMjUwMTlaGA8y
MTI2MTEwNzIyNTAxOVowGzEZMBcGA1UEAwwQdGxzIHRlc3QgZml4dHVyZTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABL207Ti+YXMcPVfOcX98rCu+P8eioO3jFw1C
BkZrEDxJr7mDuQUCz7wPN62FWC/evS00TzeGN7umhk8vNcqH6NGjfzB9MB0GA1Ud
DgQWBBSBnK9TrOgjLUDIcAUCnKfaQPdx2TAfBgNVHSMEGDAWgBSBnK9TrOgjLUDI
cAUCnKfaQPdx2TAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDwYDVR0TAQH/
BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAoQwCgYIKoZIzj0EAwIDSAAwRQIgVyHQUxUZ
Knx3ltDaAyx0o4mURTWH4ikq/mg0XEEXi9UCIQDV9ienlZPOtu9P5sbh2yvHpnil
1rWbNGQamcKSLYhjpA==
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgwZB/q67gjZvV7ST8
ScnMxaxP67c8Z75rBbqB+EodnWWhRANCAAS9tO04vmFzHD1XznF/fKwrvj/HoqDt
4xcNQgZGaxA8Sa+5g7kFAs+8DzethVgv3r0tNE83hje7poZPLzXKh+jR
-----END PRIVATE KEY-----
`;
/** `openssl x509 -in cert.pem -outform der | sha256sum` */
const FINGERPRINT = "3256adc258750707b552459e604d9b5e9beba4de5a4d389b7a13cd0ac4e24ad9";

function listen(server: NetServer): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

test("certFingerprint is the lowercase hex SHA-256 of the DER", () => {
  const der = Buffer.from(CERT.replace(/-----[^-]+-----|\s/g, ""), "base64");
  assert.equal(createHash("sha256").update(der).digest("hex"), FINGERPRINT);
  assert.equal(certFingerprint(CERT), FINGERPRINT);
  assert.equal(certFingerprint(CERT + CERT), FINGERPRINT, "the first certificate of a chain");
  assert.throws(() => certFingerprint("hello"), /not a PEM certificate/);
});

test("fetchPinnedCa returns the pinned certificate and refuses any other", async (t) => {
  const server = createTlsServer({ cert: CERT, key: KEY, ALPNProtocols: ["h2"] }, (s) => s.end());
  const address = await listen(server);
  t.after(() => server.close());

  const pem = await fetchPinnedCa(address, FINGERPRINT.toUpperCase().replace(/(..)(?!$)/g, "$1:"));
  assert.equal(certFingerprint(pem), FINGERPRINT);
  assert.equal(pem.replace(/\s/g, ""), CERT.replace(/\s/g, ""));

  const wrong = "ab".repeat(32);
  await assert.rejects(fetchPinnedCa(address, wrong), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(
        `^the server at ${address} presented no certificate with fingerprint ${wrong}; got: ${FINGERPRINT} \\(tls test fixture\\)$`,
      ),
    );
    return true;
  });
});

test("fetchPinnedCa fails clearly on bad input, refused connections and silence", async (t) => {
  await assert.rejects(fetchPinnedCa("127.0.0.1:1", "abc"), /a CA fingerprint is 64 hex characters/);
  await assert.rejects(fetchPinnedCa("no-port", FINGERPRINT), /not a host:port address/);

  const closed = createTcpServer();
  const refusedAt = await listen(closed);
  await new Promise((r) => closed.close(r));
  await assert.rejects(
    fetchPinnedCa(refusedAt, FINGERPRINT),
    new RegExp(`could not fetch the CA from the server at ${refusedAt}: .*ECONNREFUSED`),
  );

  const silent = createTcpServer(() => {}); // accepts, never answers the ClientHello
  const silentAt = await listen(silent);
  t.after(() => silent.close());
  const started = Date.now();
  await assert.rejects(
    fetchPinnedCa(silentAt, FINGERPRINT, 200),
    new RegExp(`server at ${silentAt} timed out after 200 ms`),
  );
  assert.ok(Date.now() - started < 2000);
});

test("grpc-js over the credentials: trusted CA connects, an untrusted one is refused", async (t) => {
  const echo: grpc.ServiceDefinition = {
    echo: {
      path: "/test.Echo/Echo",
      requestStream: false,
      responseStream: false,
      originalName: "echo",
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  };
  const server = new grpc.Server();
  server.addService(echo, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", serverTlsCredentials(CERT, KEY), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.after(() => server.forceShutdown());

  const Client = grpc.makeGenericClientConstructor(echo, "Echo");
  const call = (creds: grpc.ChannelCredentials) => {
    const client = new Client(`127.0.0.1:${port}`, creds);
    return new Promise<Buffer>((resolve, reject) =>
      (
        client as unknown as {
          echo: (req: Buffer, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Buffer) => void) => void;
        }
      ).echo(Buffer.from("hi"), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
    ).finally(() => client.close());
  };

  assert.equal((await call(clientTlsCredentials(CERT))).toString(), "hi");
  // System roots only: the fixture is self-signed and in none of them.
  await assert.rejects(call(grpc.credentials.createSsl()), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /certificate/);
    return true;
  });
  assert.throws(() => clientTlsCredentials("not pem"), /not a PEM certificate/);
});
