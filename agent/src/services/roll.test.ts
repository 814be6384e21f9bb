// The roll of one host, against the real engine and a real HAProxy, with a client polling the
// service's address all along: an update and a rollback cost no request, a replica gets a
// request only once it is in the proxy, a rollback to warm replicas starts nothing, a target
// that never becomes healthy leaves the host serving the old revision, and a second roll in
// a row does nothing. The cases run in order on one service, each from where the last left it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LoadClient, getBody } from "@dockyard/testkit";
import { rollHost } from "./roll";
import { listReplicas } from "./replica";
import { requestLog, rollFixture, target, until, type RollFixture } from "./roll-fixtures";

describe("rolling a service on one host", { timeout: 180_000 }, () => {
  let f: RollFixture;
  /** Replicas as revision-index → container id. */
  const replicas = async () =>
    Object.fromEntries(
      (await listReplicas(f.docker, f.service)).map((r) => [
        `${r.revision}-${r.index}${r.running ? "" : " exited"}`,
        r.containerId,
      ]),
    );
  const routed = async () =>
    (await f.proxy.slots())
      .filter((s) => s.state !== "maint")
      .map((s) => s.addr)
      .sort();
  /** Poll the service, run `work`, and wait until `body` answered 100 times after it: the client's view. */
  const underLoad = async (work: () => Promise<void>, body: string) => {
    const client = new LoadClient(f.url, { intervalMs: 5 });
    client.start();
    try {
      await until(() => client.ok >= 100, "100 answers before the change");
      const t0 = Date.now();
      await work();
      const t1 = Date.now();
      client.mark();
      await until(() => (client.sinceMark.get(body) ?? 0) >= 100, `100 answers of ${body} after the change`);
      return { client, t0, t1 };
    } finally {
      await client.stop();
    }
  };

  before(async () => {
    f = await rollFixture();
  });
  after(async () => {
    await f?.cleanup();
  });

  it("rolls to revision 1 with 2 replicas", async () => {
    await rollHost(f.ctx(), f.spec(target(1)));
    assert.deepEqual(Object.keys(await replicas()), ["1-1", "1-2"]);
    assert.equal((await routed()).length, 2);
    assert.equal(await getBody(f.url), "rev1");
  });

  it("rolls to revision 2 under load with no failed request, and no replica is asked before it is in the proxy", async () => {
    const before = await replicas();
    f.proxy.puts.length = 0;
    const { client, t0, t1 } = await underLoad(
      () => rollHost(f.ctx(), f.spec(target(2), { keepOthers: true })),
      "rev2",
    );
    assert.deepEqual(client.failures, [], "no request failed");
    assert.deepEqual([...client.sinceMark.keys()], ["rev2"], "only revision 2 answers once the roll is done");
    assert.ok(client.lastSeen.get("rev1")! <= t1, "revision 1 answered until the roll ended, not after");
    assert.ok(client.firstSeen.get("rev2")! >= t0, "revision 2 answered only once the roll began");
    const now = await replicas();
    // Revision 1 is kept warm (keepOthers), out of the proxy.
    assert.deepEqual(Object.keys(now), ["1-1", "1-2", "2-1", "2-2"]);
    assert.equal(now["1-1"], before["1-1"]);

    for (const name of ["2-1", "2-2"]) {
      const id = now[name]!;
      const ip = (await f.docker.getContainer(id).inspect()).NetworkSettings.Networks[`dy-svc-${f.service}`]!.IPAddress;
      const put = f.proxy.puts.find((p) => p.ip === ip);
      assert.ok(put, `replica ${name} was put in the proxy`);
      const log = await requestLog(f.docker, id);
      const early = log.filter((r) => r.path !== "/health" && r.at < put.at);
      assert.deepEqual(early, [], `replica ${name} got no request but its check before it was in the proxy`);
      // Controls: the log is read right (checks before, the client's requests after).
      assert.ok(
        log.some((r) => r.path === "/health" && r.at < put.at),
        `${name}: health checks before`,
      );
      assert.ok(
        log.some((r) => r.path === "/" && r.at >= put.at),
        `${name}: the client's requests after`,
      );
    }
    assert.equal((await routed()).length, 2);
    assert.ok(
      f.lines.some((l) =>
        /^replica dy-svc-roll-\S+-r2-1 healthy after \d+\.\d s; in the proxy \(slot \d+\)$/.test(l.text),
      ),
    );
  });

  it("rolls back to revision 1 by switching to its warm replicas: no container started, no request failed", async () => {
    const before = await replicas();
    f.lines.length = 0;
    const { client } = await underLoad(() => rollHost(f.ctx(), f.spec(target(1), { keepOthers: true })), "rev1");
    assert.deepEqual(client.failures, []);
    assert.deepEqual([...client.sinceMark.keys()], ["rev1"]);
    assert.deepEqual(await replicas(), before, "the same containers: rev 1 reused, rev 2 kept warm");
    assert.ok(!f.lines.some((l) => l.text.startsWith("starting")), "no replica started");
    assert.ok(f.lines.some((l) => /r1-1 already runs and served before: one passing check/.test(l.text)));
  });

  it("does nothing when rolled again to what it serves", async () => {
    const before = { replicas: await replicas(), routed: await routed() };
    f.lines.length = 0;
    f.proxy.puts.length = 0;
    await rollHost(f.ctx(), f.spec(target(1), { keepOthers: true }));
    assert.deepEqual({ replicas: await replicas(), routed: await routed() }, before);
    assert.deepEqual(f.proxy.puts, [], "nothing put in the proxy");
    assert.deepEqual(
      f.lines.map((l) => l.text.replace(/127\.0\.0\.1:\d+/, "ADDR")),
      ["all 2 replicas of revision 1 are in the proxy", "this host serves revision 1 with 2 replicas at ADDR"],
    );
  });

  it("fails on a target that never becomes healthy, naming its check, and the host keeps serving the old revision", async () => {
    const before = { replicas: await replicas(), routed: await routed() };
    let failure: Error | null = null;
    const { client } = await underLoad(async () => {
      failure = await rollHost(
        f.ctx(),
        f.spec(target(3, { http: { path: "/missing", status: 200 } }), { healthTimeoutMs: 1500 }),
      ).then(
        () => null,
        (err: Error) => err,
      );
    }, "rev1");
    assert.ok(failure, "the roll failed");
    assert.match(
      (failure as Error).message,
      /^replica dy-svc-roll-\S+-r3-1 was not healthy for 300 ms in a row in time; last check: GET \/missing answered 404, expected 200/,
    );
    assert.deepEqual(client.failures, []);
    assert.deepEqual([...client.sinceMark.keys()], ["rev1"]);
    assert.deepEqual(
      { replicas: await replicas(), routed: await routed() },
      before,
      "revision 3 stopped, nothing else changed",
    );
  });

  it("scales up and down under load; the target's extra replicas are stopped, not kept warm", async () => {
    const up = await underLoad(
      () => rollHost(f.ctx(), f.spec(target(1), { replicas: 3, maxParallel: 2, keepOthers: true })),
      "rev1",
    );
    assert.deepEqual(up.client.failures, []);
    assert.deepEqual(Object.keys(await replicas()), ["1-1", "1-2", "1-3", "2-1", "2-2"]);
    assert.equal((await routed()).length, 3);
    const down = await underLoad(() => rollHost(f.ctx(), f.spec(target(1), { replicas: 1, keepOthers: true })), "rev1");
    assert.deepEqual(down.client.failures, []);
    assert.deepEqual(Object.keys(await replicas()), ["1-1", "2-1", "2-2"], "rev 2 still warm, rev 1 extras gone");
    assert.equal((await routed()).length, 1);
  });

  it("stops the warm replicas once they are not kept, then every replica for no target (the proxy stays, empty)", async () => {
    await rollHost(f.ctx(), f.spec(target(1)));
    assert.deepEqual(Object.keys(await replicas()), ["1-1", "1-2"]);
    await rollHost(f.ctx(), f.spec(null));
    assert.deepEqual(await replicas(), {});
    assert.deepEqual(await routed(), []);
    assert.ok(f.proxy.pid(), "the proxy still runs");
  });
});
