// The generated material in use: a real grpc-js server on 127.0.0.1 with the
// serving chain, clients that trust the farm CA (pinned from the fingerprint,
// as an agent joining with a token does) or another farm's CA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { certFingerprint, clientTlsCredentials, fetchPinnedCa, serverTlsCredentials } from "@dockyard/proto";
import { ensurePki } from "./pki";
import { tempDir } from "@dockyard/testkit";

const ping: grpc.ServiceDefinition = {
  ping: {
    path: "/dockyard.test.Ping/Ping",
    requestStream: false,
    responseStream: false,
    originalName: "ping",
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};
const PingClient = grpc.makeGenericClientConstructor(ping, "Ping");

function callPing(address: string, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new PingClient(address, credentials);
  const call = (client as unknown as Record<string, Function>).ping!.bind(client) as (
    req: Buffer,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res: Buffer) => void,
  ) => void;
  return new Promise<string>((resolve, reject) =>
    call(Buffer.from("ping"), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(`${res}`))),
  ).finally(() => client.close());
}

test("a grpc-js server with the generated chain: the pinned CA connects, another farm's CA does not", async (t) => {
  const pki = await ensurePki({ dir: tempDir("pki-tls"), sans: [] });
  const otherFarm = await ensurePki({ dir: tempDir("pki-tls-other"), sans: [] });

  const server = new grpc.Server();
  server.addService(ping, { ping: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from("pong")) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", serverTlsCredentials(pki.serverCertChainPem, pki.serverKeyPem), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  t.after(() => server.forceShutdown());
  const address = `127.0.0.1:${port}`;

  // Join: pin the CA by the fingerprint from the token, then trust only it.
  const caPem = await fetchPinnedCa(address, pki.caFingerprint);
  assert.equal(caPem, pki.caPem);
  assert.equal(await callPing(address, clientTlsCredentials(caPem)), "pong");
  assert.equal(await callPing(`localhost:${port}`, clientTlsCredentials(caPem)), "pong");

  await assert.rejects(callPing(address, clientTlsCredentials(otherFarm.caPem)), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.match(err.details, /certificate/i);
    return true;
  });

  await assert.rejects(fetchPinnedCa(address, otherFarm.caFingerprint), (err: Error) => {
    const leaf = certFingerprint(pki.serverCertChainPem);
    assert.match(
      err.message,
      new RegExp(
        `^the server at ${address} presented no certificate with fingerprint ${otherFarm.caFingerprint}; got: `,
      ),
    );
    assert.ok(
      err.message.includes(leaf) && err.message.includes(`${pki.caFingerprint} (Dockyard farm CA)`),
      err.message,
    );
    return true;
  });
});

test("operator-provided files serve the same way, the CA appended to the chain", async (t) => {
  const made = tempDir("pki-tls-op");
  const source = await ensurePki({ dir: made, sans: [] });
  const pki = await ensurePki({
    dir: tempDir("pki-tls-op2"),
    sans: [],
    certFile: join(made, "server.crt"),
    keyFile: join(made, "server.key"),
    caFile: join(made, "ca.crt"),
  });
  assert.equal(pki.caFingerprint, source.caFingerprint);
  assert.equal(pki.serverCertChainPem, source.serverCertChainPem);

  const server = new grpc.Server();
  server.addService(ping, { ping: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from("pong")) });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", serverTlsCredentials(pki.serverCertChainPem, pki.serverKeyPem), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  t.after(() => server.forceShutdown());
  const caPem = await fetchPinnedCa(`127.0.0.1:${port}`, pki.caFingerprint);
  assert.equal(await callPing(`127.0.0.1:${port}`, clientTlsCredentials(caPem)), "pong");
});
