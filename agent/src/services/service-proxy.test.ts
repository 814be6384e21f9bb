// The per-host service proxy against real HAProxy and real replicas (busybox httpd
// containers): a client that mixes keep-alive and fresh connections sees no failed request
// while the proxy moves from one replica to another (put, drain until idle, stop, take), and
// the same client does see failures when the only replica is killed (the positive control).
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import type Dockerode from "dockerode";
import { freePort, LoadClient, getBody, tempDir } from "@dockyard/testkit";
import { BASE_IMAGE } from "../executor/docker-client";
import { connectEngine, uniq } from "../docker/environment-fixtures";
import { ServiceProxy } from "./service-proxy";

const PORT = 8080;

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("service proxy (HAProxy runtime API)", { timeout: 120_000 }, () => {
  const suffix = uniq();
  const network = `dy-proxy-${suffix}`;
  const dir = tempDir("service-proxy");
  let docker: Dockerode;
  let proxy: ServiceProxy;

  const replica = async (name: string): Promise<{ container: Dockerode.Container; ip: string }> => {
    const container = await docker.createContainer({
      name: `dy-proxy-${suffix}-${name}`,
      Image: BASE_IMAGE,
      Cmd: ["sh", "-c", `mkdir /www && echo ${name} > /www/index.html && exec httpd -f -p ${PORT} -h /www`],
      Labels: { "dockyard.test": "service-proxy" },
      HostConfig: { NetworkMode: network },
    });
    await container.start();
    const info = await container.inspect();
    const ip = info.NetworkSettings.Networks[network]?.IPAddress ?? "";
    await until(() => ip !== "", `an address for ${name}`);
    // Healthy before it is put in: the proxy never routes to a replica that is not.
    const deadline = Date.now() + 10_000;
    while ((await getBody(`http://${ip}:${PORT}/`).catch(() => "")) !== name) {
      if (Date.now() > deadline) throw new Error(`replica ${name} never answered`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { container, ip };
  };

  before(async () => {
    docker = await connectEngine();
    await docker.createNetwork({ Name: network, Labels: { "dockyard.test": "service-proxy" } });
    proxy = new ServiceProxy({ service: "web", dir, bind: { host: "127.0.0.1", port: await freePort() }, slots: 4 });
  });

  after(async () => {
    await proxy?.stop();
    for (const c of await docker.listContainers({ all: true, filters: { name: [`dy-proxy-${suffix}-`] } })) {
      await docker.getContainer(c.Id).remove({ force: true });
    }
    await docker
      .getNetwork(network)
      .remove()
      .catch(() => undefined);
  });

  it("moves traffic from one replica to another with no failed request; a second starter finds the running proxy", async () => {
    await proxy.ensure();
    const pid = proxy.pid();
    assert.ok(pid, "the proxy runs");
    // The agent restarts: a new handle on the same directory finds it, starts no other.
    const again = new ServiceProxy({ service: "web", dir, bind: { host: "127.0.0.1", port: 1 }, slots: 4 });
    await again.ensure();
    assert.equal(again.pid(), pid);

    const v1 = await replica("v1");
    await proxy.put(1, v1.ip, PORT);
    const address = (await proxy.slots()).find((s) => s.slot === 1);
    assert.deepEqual(address, { slot: 1, addr: `${v1.ip}:${PORT}`, state: "ready", current: 0 });

    const client = new LoadClient(`http://${proxy.address}/`);
    client.start();
    try {
      await until(() => client.ok >= 200, "200 requests through the proxy");
      const v2 = await replica("v2");
      await proxy.put(2, v2.ip, PORT);
      const drained = await proxy.drain(1, 10_000);
      assert.deepEqual(drained, { idle: true, current: 0 });
      await v1.container.stop({ t: 5 });
      await proxy.take(1);
      client.mark();
      await until(() => (client.sinceMark.get("v2") ?? 0) >= 200, "200 more requests after the switch");
      assert.deepEqual([...client.sinceMark.keys()], ["v2"], "only the new replica answers after the switch");
      assert.ok((client.bodies.get("v1") ?? 0) > 0, "the old replica answered before");
      assert.deepEqual(client.failures, [], "no request failed");

      // The positive control: the only replica dies, and the same client sees it.
      await v2.container.kill();
      await until(() => client.failures.length > 0, "the client to see a failure once no replica is left");
    } finally {
      await client.stop();
    }
  });

  it("refuses a bad service name, slot or address, naming it", async () => {
    assert.throws(
      () => new ServiceProxy({ service: "Web!", dir, bind: { host: "127.0.0.1", port: 1 }, slots: 1 }),
      /service name 'Web!' must be/,
    );
    assert.throws(
      () => new ServiceProxy({ service: "web", dir, bind: { host: "127.0.0.1", port: 1 }, slots: 0 }),
      /slots 0 must be 1 to 64/,
    );
    await assert.rejects(proxy.put(5, "10.0.0.1", 80), /slot 5 must be 1 to 4/);
    await assert.rejects(proxy.put(1, "10.0.0.1; rm", 80), /'10.0.0.1; rm' is not an IP address/);
  });
});
