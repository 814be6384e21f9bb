// Services, rolled as a user releases them: real HAProxy in front of real replicas on two
// Docker engines (two agents, "hosts" 127.0.0.1 and 127.0.0.2). A client polls both hosts'
// addresses through each update (keep-alive and fresh connections) and counts every failed
// request; the replicas' own access logs show no client request reached one before it was
// healthy. The first update creates the service; a new image or env is a new revision rolled
// host by host; an env-file change with the same image is one too; the same files again are
// the same revision; a second update waits in the deploy queue; and the positive controls show
// the client and the access-log check would have seen a failure.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { LoadClient } from "@dockyard/testkit";
import { randomBytes } from "node:crypto";
import {
  accessLog,
  bodiesOver,
  hasImage,
  HOSTS,
  pushToRegistry,
  REGISTRY_ADDRESS,
  releasePipeline,
  removeImage,
  replicasOn,
  serviceFile,
  ServiceFarm,
  testRegistry,
  waitFor,
} from "../index";

const GREETING_SECRET = "bonjour-from-the-store";
const ENV_FILE = "# the greeting comes from the secret store\nGREETING=${{ secrets.svc-greeting }}\n";

const files =
  (env: Record<string, string>, envFile?: string, extra: Partial<Parameters<typeof serviceFile>[0]> = {}) =>
  (port: number): Record<string, string> => ({
    "services/web.yml": serviceFile({
      name: "roll-web",
      proxyPort: port,
      env,
      ...(envFile !== undefined && { envFile }),
      ...extra,
    }),
    ...(envFile !== undefined && { "services/web.env": envFile }),
  });

describe("services: rolling updates across two hosts", { timeout: 600_000 }, () => {
  let sf: ServiceFarm;
  const clients: LoadClient[] = [];
  const load = () => {
    const list = sf.addresses().map((a) => new LoadClient(`http://${a}/`, { loops: 4, intervalMs: 10 }));
    for (const c of list) c.start();
    clients.push(...list);
    return list;
  };
  const stopLoad = async (list: LoadClient[]) => {
    for (const c of list) await c.stop();
    return list.flatMap((c) => c.failures);
  };

  // The first revision's image is only in the registry and on engine A: host-b's agent pulls it.
  const image = `${REGISTRY_ADDRESS}/svc-e2e/busybox:${randomBytes(4).toString("hex")}`;

  before(async () => {
    const registry = await testRegistry();
    sf = new ServiceFarm({
      env: {
        DOCKYARD_REGISTRY: registry.address,
        DOCKYARD_REGISTRY_USERNAME: registry.username,
        DOCKYARD_REGISTRY_PASSWORD_SECRET: "registry-password",
      },
    });
    await sf.start();
    await sf.farm.client.setSecret({ name: "registry-password", value: Buffer.from(registry.password) });
    await pushToRegistry(HOSTS[0].engine, "dockyard/busybox:1", image, registry);
  });
  after(async () => {
    for (const c of clients) await c.stop();
    await sf?.stop();
    for (const h of HOSTS) await removeImage(h.engine, image);
  });

  it("the first update creates the service: 3 replicas over 2 hosts, one address per host, the image pulled where missing", async () => {
    assert.equal(await hasImage(HOSTS[1].engine, image), false, "host-b's engine lacks the image before");
    const run = await sf.release(
      files({ GREETING: "hello", REV: "1" }, undefined, { image })(sf.proxyPort),
      releasePipeline("roll-web"),
    );
    const stage = await sf.waitStageEnd(run);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    assert.equal(await hasImage(HOSTS[1].engine, image), true, "host-b's agent pulled it from the registry");
    assert.equal(stage.outputs?.values.revision, "1");
    assert.equal(stage.outputs?.values.rolled_back, "false");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["hello rev1"]);
    assert.deepEqual(
      await Promise.all(
        HOSTS.map(async (h) => (await replicasOn(h.engine, "roll-web")).filter((r) => r.state === "running").length),
      ),
      [2, 1],
      "3 replicas spread over the two hosts, the first taking the extra one",
    );
    const listed = await waitFor(
      async () => {
        const [svc] = (await sf.farm.client.listServices({ name: "roll-web" })).services;
        return svc?.health === "healthy" ? svc : undefined;
      },
      { timeoutMs: 20_000, message: "dockyard services to show roll-web healthy from the agents' reports" },
    );
    assert.equal(listed.revision, 1);
    assert.deepEqual(
      listed.hosts.map((h) => [h.agent, h.running, h.expected, h.address]),
      HOSTS.map((h, i) => [h.name, 2 - i, 2 - i, `${h.address}:${sf.proxyPort}`]),
    );
  });

  it("a new revision rolls under load with no failed request, and no request reaches a replica before it is healthy", async () => {
    const list = load();
    const run = await sf.release(
      files({ GREETING: "hello", REV: "2", READY_DELAY: "2" })(sf.proxyPort),
      releasePipeline("roll-web"),
    );
    const stage = await sf.waitStageEnd(run);
    const failures = await stopLoad(list);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    assert.equal(stage.outputs?.values.revision, "2");
    assert.equal(stage.outputs?.values.previous_revision, "1");
    assert.deepEqual(failures, [], "no request failed during the update");
    const seen = new Set(list.flatMap((c) => [...c.bodies.keys()]));
    assert.ok(
      seen.has("hello rev1") && seen.has("hello rev2"),
      `the client saw both revisions: ${[...seen].join(", ")}`,
    );
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["hello rev2"]);
    for (const h of HOSTS) {
      const replicas = await replicasOn(h.engine, "roll-web");
      assert.deepEqual([...new Set(replicas.map((r) => r.revision))], [2], `${h.name} runs revision 2 only`);
      for (const r of replicas) {
        const log = await accessLog(h.engine, r.id);
        assert.ok(log.firstHealthy !== null, `${r.name} passed its check`);
        assert.ok(log.client.length > 0, `${r.name} served clients`);
        const early = log.client.filter((t) => t < log.firstHealthy!);
        assert.deepEqual(early, [], `${r.name}: no client request before its first passing check`);
      }
    }
    const history = (await sf.farm.client.serviceHistory({ name: "roll-web" })).entries;
    const open = history.filter((e) => e.untilMs === 0n).map((e) => [e.agent, e.revision, e.replicas]);
    assert.deepEqual(open.sort(), HOSTS.map((h, i) => [h.name, 2, 2 - i]).sort());
    const closed = history.filter((e) => e.revision === 1);
    assert.equal(closed.length, 2);
    assert.ok(
      closed.every((e) => e.untilMs > 0n && e.run.startsWith("release#")),
      "revision 1 ended on both hosts",
    );
  });

  it("an env-file change with the same image is a new revision, rolled the same way; its secrets stay names", async () => {
    await sf.farm.client.setSecret({ name: "svc-greeting", value: Buffer.from(GREETING_SECRET) });
    const list = load();
    const run = await sf.release(files({ REV: "2" }, ENV_FILE)(sf.proxyPort), releasePipeline("roll-web"));
    const stage = await sf.waitStageEnd(run);
    const failures = await stopLoad(list);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    assert.equal(stage.outputs?.values.revision, "3");
    assert.deepEqual(failures, []);
    assert.deepEqual(
      [...(await bodiesOver(sf.addresses()))],
      [`${GREETING_SECRET} rev2`],
      "the secret reached the replicas",
    );
    const stored = await sf.farm.pg.query<{ spec: string }>(
      "SELECT spec::text FROM service_revisions WHERE service = 'roll-web' AND revision = 3",
    );
    assert.ok(!stored.rows[0]!.spec.includes(GREETING_SECRET), "the revision stores no secret value");
    assert.match(stored.rows[0]!.spec, /"secret": ?"svc-greeting"/);
  });

  it("the same files again are the same revision: the hosts are checked, no replica is replaced", async () => {
    const before = (await Promise.all(HOSTS.map((h) => replicasOn(h.engine, "roll-web"))))
      .flat()
      .map((r) => r.id)
      .sort();
    const run = await sf.release(files({ REV: "2" }, ENV_FILE)(sf.proxyPort), releasePipeline("roll-web"));
    const stage = await sf.waitStageEnd(run);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    assert.equal(stage.outputs?.values.revision, "3");
    assert.match(stage.reason ?? "", /already ran revision 3/);
    const now = (await Promise.all(HOSTS.map((h) => replicasOn(h.engine, "roll-web"))))
      .flat()
      .map((r) => r.id)
      .sort();
    assert.deepEqual(now, before);
  });

  it("a second update waits in the deploy queue, naming the holder and its position, and runs after it", async () => {
    const slow = await sf.release(
      files({ GREETING: "queued", REV: "4", READY_DELAY: "3" })(sf.proxyPort),
      releasePipeline("roll-web"),
    );
    await waitFor(async () => /rolling host/.test((await sf.stageOf(slow))?.reason ?? ""), {
      timeoutMs: 30_000,
      message: "the first update to roll",
    });
    const second = await sf.release(files({ GREETING: "queued", REV: "5" })(sf.proxyPort), releasePipeline("roll-web"));
    const waiting = await waitFor(
      async () => {
        const s = await sf.stageOf(second);
        return /deploy queue/.test(s?.reason ?? "") ? s!.reason! : undefined;
      },
      { timeoutMs: 20_000, message: "the second update to wait in the queue" },
    );
    assert.match(
      waiting,
      /waiting in the deploy queue of service 'roll-web': position 1 of 1, behind run release#\d+ stage 'release'/,
    );
    assert.equal((await sf.waitStageEnd(slow)).state, "succeeded", "the first update was not canceled");
    const last = await sf.waitStageEnd(second);
    assert.equal(last.state, "succeeded", last.reason ?? "");
    assert.equal(last.outputs?.values.revision, "5");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["queued rev5"]);
  });

  it("a file and stage without an image keep the image the service runs: an env-only change", async () => {
    const imageOf = async () => {
      const [h] = HOSTS;
      const Docker = (await import("dockerode")).default;
      const docker = new Docker({ socketPath: h.engine.replace("unix://", "") });
      const [r] = (await replicasOn(h.engine, "roll-web")).filter((x) => x.state === "running");
      return (await docker.getContainer(r!.id).inspect()).Config.Image;
    };
    const before = await imageOf();
    const run = await sf.release(
      files({ GREETING: "kept", REV: "9" }, undefined, { image: null })(sf.proxyPort),
      releasePipeline("roll-web"),
    );
    const stage = await sf.waitStageEnd(run);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["kept rev9"], "the env change is live");
    assert.equal(await imageOf(), before, "the replicas run the image the service ran before");
  });

  it("positive controls: the client counts failures when a host's replicas die, and the access-log check sees an early request", async () => {
    const [a] = HOSTS;
    const client = new LoadClient(`http://${a.address}:${sf.proxyPort}/`, { loops: 2, intervalMs: 10 });
    client.start();
    clients.push(client);
    await waitFor(() => client.ok > 20, { timeoutMs: 10_000, message: "the client to get answers" });
    const Docker = (await import("dockerode")).default;
    const docker = new Docker({ socketPath: a.engine.replace("unix://", "") });
    for (const r of await replicasOn(a.engine, "roll-web")) await docker.getContainer(r.id).kill();
    await waitFor(() => client.failures.length > 0, { timeoutMs: 10_000, message: "the client to see failures" });
    await client.stop();
    // A request straight to a replica before it is healthy is in its log before its first passing check.
    // The health file appears only after that request answered (an exec, not a timer), so the order is certain.
    const early = await docker.createContainer({
      Image: "dockyard/busybox:1",
      Cmd: ["sh", "-c", "mkdir -p /www; echo x > /www/index.html; exec httpd -f -vv -p 8080 -h /www"],
      Labels: { "dockyard.service": "control" },
      HostConfig: { NetworkMode: "dy-svc-roll-web" },
    });
    try {
      await early.start();
      const ip = (await early.inspect()).NetworkSettings.Networks["dy-svc-roll-web"]!.IPAddress;
      await waitFor(async () => (await fetch(`http://${ip}:8080/`).catch(() => null))?.ok, {
        timeoutMs: 10_000,
        message: "the control replica to answer",
      });
      const exec = await early.exec({ Cmd: ["touch", "/www/health"] });
      // Detached: Docker answers once the command started. Its response stream is closed here, or the open
      // socket to the engine would keep this test file's process alive after its tests end.
      const started = (await exec.start({ Detach: true })) as unknown as { destroy?: () => void } | undefined;
      started?.destroy?.();
      await waitFor(async () => (await fetch(`http://${ip}:8080/health`).catch(() => null))?.ok, {
        timeoutMs: 10_000,
        message: "the control replica to be healthy",
      });
      // Docker copies the log asynchronously: wait until its passing check is in it.
      const log = await waitFor(
        async () => {
          const l = await accessLog(a.engine, early.id);
          return l.firstHealthy !== null ? l : undefined;
        },
        { timeoutMs: 10_000, message: "the control replica's passing check in its log" },
      );
      assert.ok(
        log.client.some((t) => t < log.firstHealthy!),
        "the check sees the early request",
      );
    } finally {
      await early.remove({ force: true });
    }
  });
});
