// The watch window and aborts, on the real engine and HAProxy: a watch succeeds when no
// replica dies and fails at once, naming the replica, its exit code and its log, when one is
// killed; an aborted roll leaves the proxy routing only to checked replicas, and the next
// roll finishes the job with the replica the aborted one started.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getBody } from "@dockyard/testkit";
import { rollHost } from "./roll";
import { listReplicas } from "./replica";
import { rollFixture, target, until, type RollFixture } from "./roll-fixtures";
import { watchHost } from "./watch";

describe("watching a service on one host, and aborting a roll", { timeout: 180_000 }, () => {
  let f: RollFixture;
  const log: string[] = [];
  const watch = (revision: number, watchMs: number, signal = new AbortController().signal, replicas = 2) =>
    watchHost(
      f.docker,
      { service: f.service, owner: f.host.owner, revision, replicas, watchMs },
      (l) => log.push(l),
      signal,
    );
  const idOf = async (revision: number, index: number) =>
    (await listReplicas(f.docker, f.service)).find((r) => r.revision === revision && r.index === index)!.containerId;
  const routedIps = async () =>
    (await f.proxy.slots())
      .filter((s) => s.state !== "maint")
      .map((s) => s.addr!.split(":")[0]!)
      .sort();
  const ipsOf = async (revision: number) =>
    Promise.all(
      (await listReplicas(f.docker, f.service))
        .filter((r) => r.revision === revision && r.running)
        .map(
          async (r) =>
            (await f.docker.getContainer(r.containerId).inspect()).NetworkSettings.Networks[`dy-svc-${f.service}`]!
              .IPAddress,
        ),
    ).then((ips) => ips.sort());

  before(async () => {
    f = await rollFixture();
    await rollHost(f.ctx(), f.spec(target(1)));
  });
  after(async () => {
    await f?.cleanup();
  });

  it("succeeds at the end of the window when no replica stops", async () => {
    const t0 = Date.now();
    await watch(1, 1000);
    assert.ok(Date.now() - t0 >= 1000, "watched the whole window");
    assert.equal(log.at(-1), "all replicas of revision 1 kept running for 1 s");
  });

  it("an aborted roll leaves only checked replicas in the proxy; the next roll finishes with what it started", async () => {
    const abort = new AbortController();
    const slow = target(2, { minHealthyMs: 60_000 });
    const rolling = rollHost(f.ctx(abort.signal), f.spec(slow, { healthTimeoutMs: 120_000 }));
    await until(async () => (await listReplicas(f.docker, f.service)).some((r) => r.revision === 2), "r2-1 started");
    abort.abort();
    await assert.rejects(rolling, { name: "AbortError" });
    assert.deepEqual(await routedIps(), await ipsOf(1), "the proxy routes to revision 1 only");
    assert.equal(await getBody(f.url), "rev1");
    const started = await idOf(2, 1);
    await rollHost(f.ctx(), f.spec(target(2)));
    assert.equal(await idOf(2, 1), started, "the replica the aborted roll started is used");
    assert.deepEqual(await routedIps(), await ipsOf(2));
    assert.equal(await getBody(f.url), "rev2");
  });

  it("fails as soon as a replica is killed, naming it, its exit code and its last lines", async () => {
    const victim = await idOf(2, 2);
    const t0 = Date.now();
    const watching = watch(2, 60_000);
    await until(() => log.some((l) => l.startsWith("watching 2 replicas of revision 2")), "the watch to begin");
    await f.docker.getContainer(victim).kill();
    await assert.rejects(watching, (err: Error) => {
      assert.equal(err.name, "ReplicaError");
      assert.match(
        err.message,
        /^replica dy-svc-roll-\S+-r2-2 exited with code 137 during the watch window; last output:/,
      );
      assert.match(err.message, /url:\/health/, "the replica's own log");
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000, "at once, not at the end of the window");
  });

  it("stops watching when aborted", async () => {
    const abort = new AbortController();
    // r2-1 still runs (r2-2 was killed above).
    const watching = watch(2, 60_000, abort.signal, 1);
    const t0 = Date.now();
    setTimeout(() => abort.abort(), 200);
    await assert.rejects(watching, { name: "AbortError" });
    assert.ok(Date.now() - t0 < 5000, "at once, not at the end of the window");
  });
});
