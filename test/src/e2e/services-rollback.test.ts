// Automatic and manual rollbacks of a service on two hosts, under a polling client: a revision
// that never gets healthy is rolled back with the check's message and the service stays on the
// old revision; a new replica that dies inside the watch window rolls back; a rollback through
// POST /api/v1/services/NAME/rollback inside the window switches back (the warm old replicas
// return); `dockyard services rollback` after the window starts a rollback run. No request fails
// where the scenario promises it, and the history and audit log say who rolled back and why.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import { LoadClient } from "@dockyard/testkit";
import {
  assertOneRevision,
  bodiesOver,
  HOSTS,
  releasePipeline,
  replicasOn,
  serviceFile,
  ServiceFarm,
  seriesBy,
  startHttpReceiver,
  valueOf,
  waitFor,
  waitForScrape,
  type HttpReceiver,
} from "../index";

describe("services: rollbacks, automatic and asked for", { timeout: 600_000 }, () => {
  let sf: ServiceFarm;
  const clients: LoadClient[] = [];
  const receivers: HttpReceiver[] = [];
  const files = (env: Record<string, string>, extra: Partial<Parameters<typeof serviceFile>[0]> = {}) => ({
    "services/web.yml": serviceFile({ name: "back-web", proxyPort: sf.proxyPort, env, ...extra }),
  });
  const load = () => {
    const list = sf.addresses().map((a) => new LoadClient(`http://${a}/`, { loops: 4, intervalMs: 10 }));
    for (const c of list) c.start();
    clients.push(...list);
    return list;
  };
  const failuresOf = async (list: LoadClient[]) => {
    for (const c of list) await c.stop();
    return list.flatMap((c) => c.failures);
  };
  /** dockyard_service_rollbacks_total of back-web by reason, as /metrics reports it (every class: 0 when absent). */
  const rollbacks = (samples: Parameters<typeof seriesBy>[0]) =>
    seriesBy(samples, "dockyard_service_rollbacks_total", "reason", { service: "back-web" });
  /** Scrape until back-web's rollbacks by reason are `want` (the series are read at most once a second). */
  const expectRollbacks = (want: Record<string, number>) =>
    waitForScrape(
      `http://${sf.farm.servers[0]!.http}`,
      (s) => JSON.stringify(Object.entries(rollbacks(s)).sort()) === JSON.stringify(Object.entries(want).sort()),
      { message: `back-web's rollbacks to be ${JSON.stringify(want)}`, show: rollbacks },
    );
  const watching = (run: string) =>
    waitFor(async () => /watching revision/.test((await sf.stageOf(run))?.reason ?? ""), {
      timeoutMs: 60_000,
      message: "the update to reach its watch window",
    });

  before(async () => {
    sf = new ServiceFarm({ env: { DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback" } });
    await sf.start();
    const run = await sf.release(files({ GREETING: "stable", REV: "1" }), releasePipeline("back-web"));
    assert.equal((await sf.waitStageEnd(run)).state, "succeeded");
    await waitForScrape(
      `http://${sf.farm.servers[0]!.http}`,
      (s) => valueOf(s, "dockyard_service_revision", { service: "back-web" }) === 1,
      { message: "back-web on revision 1 in /metrics" },
    );
  });
  after(async () => {
    for (const c of clients) await c.stop();
    for (const r of receivers) await r.close();
    await sf?.stop();
  });

  it("a revision that never gets healthy is rolled back: the stage says which replica and check, the service stays", async () => {
    const hook = await startHttpReceiver();
    receivers.push(hook);
    await sf.farm.client.addChannel({ name: "svc-hook", type: "webhook", url: hook.url });
    const list = load();
    const notifying = releasePipeline("back-web").replace(
      "stages:",
      'notify:\n  - on: [rolled_back]\n    channels: [svc-hook]\n    subject: "{{ run.name }} #{{ run.number }} rolled back"\nstages:',
    );
    const run = await sf.release(
      files({ GREETING: "broken", REV: "2", READY_DELAY: "9999" }, { healthTimeout: "4s" }),
      notifying,
    );
    const stage = await sf.waitStageEnd(run);
    assert.deepEqual(await failuresOf(list), [], "no request failed");
    assert.equal(stage.state, "failed");
    assert.match(stage.reason ?? "", /^rolled back to revision 1: revision 2 failed on host-a/);
    assert.match(stage.reason ?? "", /dy-svc-back-web-[0-9a-f-]{8}-r2-\d/);
    assert.match(stage.reason ?? "", /GET \/health answered 404/);
    assert.equal(stage.outputs?.values.rolled_back, "true");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["stable rev1"]);
    await assertOneRevision("back-web", 1);
    const [svc] = (await sf.farm.client.listServices({ name: "back-web" })).services;
    assert.equal(svc?.revision, 1);
    // Its one rollback, of class health (the new replicas never got healthy), and no other class.
    const scraped = await expectRollbacks({ health: 1 });
    assert.equal(valueOf(scraped, "dockyard_service_revision", { service: "back-web" }), 1);
    const msg = await waitFor(() => hook.received.find((r) => r.body.includes(run)), {
      timeoutMs: 20_000,
      message: "the rolled_back notification",
    });
    const body = JSON.parse(msg.body) as { type: string; data: { subject: string } };
    assert.equal(body.type, "run.rolled_back");
    assert.match(body.data.subject, /^release #\d+ rolled back$/);
  });

  it("an update that runs past the stage's timeout rolls back once the host rolling finished its step", async () => {
    const slow = releasePipeline("back-web").replace(
      "    type: update-service",
      "    type: update-service\n    timeout: 4s",
    );
    const run = await sf.release(files({ GREETING: "slow", REV: "9", READY_DELAY: "7" }), slow);
    const stage = await sf.waitStageEnd(run);
    assert.equal(stage.state, "failed");
    assert.match(stage.reason ?? "", /^rolled back to revision 1: timed out after 4 s$/);
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["stable rev1"]);
    await assertOneRevision("back-web", 1);
    await expectRollbacks({ health: 1, timeout: 1 });
  });

  it("a new replica that dies inside the watch window rolls the service back", async () => {
    const run = await sf.release(
      files({ GREETING: "fragile", REV: "3" }, { watchWindow: "60s" }),
      releasePipeline("back-web"),
    );
    await watching(run);
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["fragile rev3"]);
    const b = HOSTS[1];
    const running = (await replicasOn(b.engine, "back-web")).filter((r) => r.state === "running");
    const newest = Math.max(...running.map((r) => r.revision));
    assert.ok(newest > 1, "host-b runs the new revision");
    const victim = running.find((r) => r.revision === newest)!;
    await new Docker({ socketPath: b.engine.replace("unix://", "") }).getContainer(victim.id).kill();
    const stage = await sf.waitStageEnd(run);
    assert.equal(stage.state, "failed");
    assert.match(
      stage.reason ?? "",
      /^rolled back to revision 1: revision \d+ failed on host-b: .*dy-svc-back-web-[0-9a-f-]{8}-r\d+-1/,
    );
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["stable rev1"]);
    await expectRollbacks({ health: 1, timeout: 1, died: 1 });
  });

  it("POST /api/v1/services/back-web/rollback inside the window switches back to the warm old replicas", async () => {
    const run = await sf.release(
      files({ GREETING: "regret", REV: "4" }, { watchWindow: "60s" }),
      releasePipeline("back-web"),
    );
    await watching(run);
    const list = load();
    const http = sf.farm.servers[0]!.http;
    const bad = await fetch(`http://${http}/api/v1/services/back-web/rollback`, {
      method: "POST",
      headers: { authorization: `Bearer ${sf.farm.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "error rate", extra: 1 }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /unknown field 'extra'/);
    const res = await fetch(`http://${http}/api/v1/services/back-web/rollback`, {
      method: "POST",
      headers: { authorization: `Bearer ${sf.farm.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "error rate above 5%" }),
    });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { rollback: { mode: string; runId: string } };
    assert.deepEqual(body.rollback, { mode: "switch", runId: run });
    await waitFor(
      async () =>
        (await bodiesOver(sf.addresses(), 4)).size === 1 && (await bodiesOver(sf.addresses(), 1)).has("stable rev1"),
      {
        timeoutMs: 20_000,
        message: "every host back on revision 1",
      },
    );
    const stage = await sf.waitStageEnd(run);
    assert.deepEqual(await failuresOf(list), [], "no request failed during the switch");
    assert.equal(stage.state, "failed");
    assert.match(
      stage.reason ?? "",
      /rolled back to revision 1: rollback requested by .* via http: error rate above 5%/,
    );
    const audit = await sf.farm.pg.query("SELECT action, details FROM audit_log WHERE action = 'service.rollback'");
    assert.equal(audit.rows.length, 1, "the rollback is in the audit log");
    await expectRollbacks({ health: 1, timeout: 1, died: 1, requested: 1 });
  });

  it("`dockyard services rollback` after the window starts a rollback run to the previous revision", async () => {
    const run = await sf.release(files({ GREETING: "newer", REV: "5" }), releasePipeline("back-web"));
    assert.equal((await sf.waitStageEnd(run)).state, "succeeded");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["newer rev5"]);
    const [newer] = (await sf.farm.client.listServices({ name: "back-web" })).services;
    await waitForScrape(
      `http://${sf.farm.servers[0]!.http}`,
      (s) => valueOf(s, "dockyard_service_revision", { service: "back-web" }) === newer!.revision,
      { message: `back-web on revision ${newer!.revision} in /metrics` },
    );
    const list = load();
    const out = await sf.cli(["services", "rollback", "back-web", "--reason", "customer report", "--json"]);
    assert.equal(out.code, 0, out.stderr);
    const answer = JSON.parse(out.stdout) as { mode: string; runId: string };
    assert.equal(answer.mode, "run");
    const stage = await sf.waitStageEnd(answer.runId, 120_000, "rollback");
    assert.deepEqual(await failuresOf(list), []);
    assert.equal(stage.state, "succeeded", stage.reason ?? "");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["stable rev1"]);
    const back = await expectRollbacks({ health: 1, timeout: 1, died: 1, requested: 2 });
    assert.equal(valueOf(back, "dockyard_service_revision", { service: "back-web" }), 1);
    const history = JSON.parse((await sf.cli(["services", "history", "back-web", "--json"])).stdout) as {
      revision: number;
      action: string;
      reason: string;
      until: string | null;
    }[];
    const open = history.filter((h) => h.until === null);
    assert.ok(
      open.length === 2 && open.every((h) => h.revision === 1 && h.reason === "customer report"),
      JSON.stringify(open),
    );
    const none = await sf.cli(["services", "rollback", "nope"]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /service 'nope' does not exist/);
  });

  it("a run canceled in its watch window ends the stage canceled and releases the deploy queue", async () => {
    const run = await sf.release(
      files({ GREETING: "dropped", REV: "6" }, { watchWindow: "60s" }),
      releasePipeline("back-web"),
    );
    await watching(run);
    const next = await sf.release(files({ GREETING: "after", REV: "7" }), releasePipeline("back-web"));
    await waitFor(async () => /deploy queue/.test((await sf.stageOf(next))?.reason ?? ""), {
      timeoutMs: 20_000,
      message: "the next update to wait behind the one in its window",
    });
    await sf.farm.client.cancelRun({ runId: run });
    assert.equal((await sf.waitStageEnd(run)).state, "canceled");
    const last = await sf.waitStageEnd(next);
    assert.equal(last.state, "succeeded", last.reason ?? "");
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["after rev7"]);
    for (const h of HOSTS) {
      const running = (await replicasOn(h.engine, "back-web")).filter((r) => r.state === "running");
      assert.equal(
        new Set(running.map((r) => r.revision)).size,
        1,
        `${h.name} runs one revision after the next update`,
      );
    }
  });
});
