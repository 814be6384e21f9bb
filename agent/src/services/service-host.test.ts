// The host's side of services: its held-resource inventory (every replica and proxy, read
// from the engine and the proxies' directories, within the heartbeat's bounds), the proxy
// port a service keeps, and the address reported for a proxy bound on every interface.
import assert from "node:assert/strict";
import os from "node:os";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { heldResourceProblem } from "@dockyard/proto";
import { tempDir } from "@dockyard/testkit";
import { rollHost } from "./roll";
import { freePort, REPLICA_PORT, rollFixture, target, type RollFixture } from "./roll-fixtures";
import { findHaproxy, ServiceHost } from "./service-host";
import { SERVICE_PROXY_RESOURCE, SERVICE_REPLICA_RESOURCE } from "./service-resources";

describe("services held on a host", { timeout: 120_000 }, () => {
  let f: RollFixture;

  before(async () => {
    f = await rollFixture();
    await rollHost(f.ctx(), f.spec(target(1)));
  });
  after(async () => {
    await f?.cleanup();
  });

  it("reports every replica and the proxy, belonging to no run, within the heartbeat's bounds", async () => {
    await f.host.refresh();
    const mine = f.host.held().filter((r) => r.id === f.service || r.attributes.service === f.service);
    const proxy = mine.find((r) => r.kind === SERVICE_PROXY_RESOURCE);
    const port = f.proxy.address.split(":")[1]!;
    assert.deepEqual(proxy?.attributes, { address: f.proxy.address, port, pid: String(f.proxy.pid()) });
    const replicas = mine.filter((r) => r.kind === SERVICE_REPLICA_RESOURCE);
    assert.deepEqual(
      replicas.map((r) => [
        r.id,
        r.runId,
        r.attributes.revision,
        r.attributes.index,
        r.attributes.state,
        r.attributes.in_proxy,
      ]),
      [
        [`dy-svc-${f.service}-${f.host.owner.slice(0, 8)}-r1-1`, "", "1", "1", "running", "true"],
        [`dy-svc-${f.service}-${f.host.owner.slice(0, 8)}-r1-2`, "", "1", "2", "running", "true"],
      ],
    );
    for (const r of replicas)
      assert.match(r.attributes.address!, new RegExp(`^\\d+\\.\\d+\\.\\d+\\.\\d+:${REPLICA_PORT}$`));
    for (const r of mine) assert.equal(heldResourceProblem(r), null);
    // A run's end is none of theirs.
    f.host.runEnded();
    await f.host.refresh();
    assert.equal(f.host.held().filter((r) => r.attributes.service === f.service).length, 2);
  });

  it("shows a replica that died as exited, with no address", async () => {
    const id = f.host.held().find((r) => r.id === `dy-svc-${f.service}-${f.host.owner.slice(0, 8)}-r1-2`)!.id;
    await f.docker.getContainer(id).kill();
    await f.host.refresh();
    const dead = f.host.held().find((r) => r.id === id)!;
    assert.equal(dead.attributes.state, "exited");
    assert.equal(dead.attributes.address, undefined);
  });

  it("refuses to move a running proxy to another port", async () => {
    const other = await freePort();
    await assert.rejects(
      f.host.ensureProxy(f.service, other, findHaproxy()!),
      new RegExp(
        `the proxy of service '${f.service}' already runs on ${f.proxy.address.replace(/\./g, "\\.")} on this host, not 127\\.0\\.0\\.1:${other}`,
      ),
    );
  });

  it("reports a proxy bound on every interface under the host name", () => {
    const host = new ServiceHost({
      docker: null,
      dir: tempDir("svc-host"),
      address: "0.0.0.0",
      owner: () => "agent-1",
      log: pino({ level: "silent" }),
    });
    assert.equal(host.advertised(8000), `${os.hostname()}:8000`);
    const local = new ServiceHost({
      docker: null,
      dir: tempDir("svc-host"),
      address: "127.0.0.2",
      owner: () => "agent-1",
      log: pino({ level: "silent" }),
    });
    assert.equal(local.advertised(8000), "127.0.0.2:8000");
  });
});
