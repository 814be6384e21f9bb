import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { generateKeyPairSync } from "node:crypto";
import { probeReplica } from "./farm-probe";

const servers: net.Server[] = [];
after(() => servers.forEach((s) => s.close()));

async function listen(server: net.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

const opts = { connectTimeoutMs: 500, answerTimeoutMs: 500 };

describe("probeReplica", () => {
  it("refused: nothing listens on the port", async () => {
    const address = await listen(net.createServer());
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await probeReplica(address, opts), "refused");
  });

  it("frozen: the port takes the connection but no TLS answer comes (a stopped event loop)", async () => {
    const sockets: net.Socket[] = [];
    const address = await listen(net.createServer((s) => sockets.push(s)));
    assert.equal(await probeReplica(address, opts), "frozen");
    sockets.forEach((s) => s.destroy());
  });

  it("alive: a TLS server answers the handshake, and a plaintext one answers with an error", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    // No certificate: the handshake fails on the server's side, which still answers (an alert).
    const secure = await listen(
      tls.createServer({ key: privateKey.export({ type: "pkcs8", format: "pem" }) as string }),
    );
    assert.equal(await probeReplica(secure, opts), "alive");
    const plain = await listen(net.createServer((s) => s.end("HTTP/1.1 400 Bad Request\r\n\r\n")));
    assert.equal(await probeReplica(plain, opts), "alive");
  });

  it("unknown: no answer to the connection at all (no route, dropped packets)", async () => {
    // The IPv6 discard prefix (RFC 6666) is never routed: the connect fails or times out. (Not an
    // IPv4 test net: a firewall that rejects with a TCP reset would make it look refused.)
    assert.equal(await probeReplica("[100::1]:7400", opts), "unknown");
  });
});
