// The namespace harness on its own: a process in the namespace reaches a listener on the
// root-side veth address; each cut stops that (veth down: no route, refused at once;
// DROP: the connection attempt hangs until its timeout); restore brings it back; remove
// leaves no namespace, veth or rule behind.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import net from "node:net";
import { leftovers, NetnsHost } from "./netns";
import { waitFor } from "./wait";

/** Whether a TCP connection from inside `host` to `addr:port` opens within 1 s, and how long it took to tell. */
function connectFrom(host: NetnsHost, addr: string, port: number): Promise<{ ok: boolean; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      "ip",
      ["netns", "exec", host.name, "timeout", "1", "bash", "-c", `exec 3<>/dev/tcp/${addr}/${port}`],
      (err) => resolve({ ok: !err, ms: Date.now() - t0 }),
    );
  });
}

describe("NetnsHost", () => {
  const hosts: NetnsHost[] = [];
  const servers: net.Server[] = [];
  after(async () => {
    for (const s of servers) s.close();
    for (const h of hosts) h.remove();
    await waitFor(() => leftovers(hosts).length === 0, { message: "no namespace or veth left", timeoutMs: 10_000 });
  });

  it("links a namespace to the root one; veth down and DROP cut it, restore heals it, remove leaves nothing", async () => {
    const host = NetnsHost.create();
    hosts.push(host);
    assert.match(host.rootAddress, /^10\.231\.\d+\.\d+$/);
    const server = net.createServer((s) => s.destroy());
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, host.rootAddress, r));
    const port = (server.address() as net.AddressInfo).port;

    assert.equal((await connectFrom(host, host.rootAddress, port)).ok, true, "reachable over the veth");
    host.linkDown();
    assert.equal((await connectFrom(host, host.rootAddress, port)).ok, false, "veth down: unreachable");
    host.restore();
    // The veth comes back up (carrier, then its route) a moment after `ip link set up` returns: poll for it.
    const reachable = (message: string) =>
      waitFor(async () => (await connectFrom(host, host.rootAddress, port)).ok, { timeoutMs: 10_000, message });
    await reachable("reachable again after restore");
    host.dropPackets();
    const dropped = await connectFrom(host, host.rootAddress, port);
    assert.equal(dropped.ok, false, "DROP: unreachable");
    assert.ok(dropped.ms >= 900, `DROP: the connection hangs (no reset) until the timeout: ${dropped.ms} ms`);
    assert.match(host.describe(), /UP/, "the link stays up under DROP");
    host.restore();
    await reachable("reachable again after the rules are gone");
    assert.doesNotMatch(host.describe(), /DROP/);

    assert.deepEqual(
      leftovers([host]).sort(),
      [host.name, host.rootVeth].sort(),
      "the leftover check sees the namespace while it exists",
    );
    host.remove();
    await waitFor(() => leftovers([host]).length === 0, {
      message: `${host.name} and its veth pair gone`,
      timeoutMs: 10_000,
    });
  });

  it("gives each host its own namespace, veth names and /30", () => {
    const a = NetnsHost.create();
    hosts.push(a);
    const b = NetnsHost.create();
    hosts.push(b);
    assert.notEqual(a.name, b.name);
    assert.notEqual(a.rootAddress, b.rootAddress);
    assert.ok(a.rootVeth.length <= 15 && a.innerVeth.length <= 15, "interface names fit IFNAMSIZ");
  });
});
