// The farm's own series on a real server's /metrics against real Postgres, after real actions:
// a stage attempt's end is in dockyard_stage_duration_seconds under its kind and result (agent
// kinds and a server kind), an approval waiting is counted until it is decided, a delivery due
// later is in the outbox until it is sent, and a delivery to a channel nobody listens on that
// gives up is counted in dockyard_notify_failed_deliveries_total (kept in Postgres), and a
// rollback an alert asks for is counted under reason="alert" (a person's under "requested").
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { enqueueNotification, requestRollback } from "@dockyard/control-plane";
import {
  freePort,
  seriesBy,
  startFarm,
  startHttpReceiver,
  submit,
  userClient,
  valueOf,
  waitFor,
  waitForRun,
  waitForScrape,
  waitingReasonOf,
  scrape,
  type Farm,
  type HttpReceiver,
  type Sample,
} from "../index";

const DURATION = "dockyard_stage_duration_seconds";
/** Histogram counts of stage durations: `KIND/RESULT -> count`. */
const durationCounts = (samples: Sample[]) => {
  const out: Record<string, number> = {};
  for (const s of samples) if (s.name === `${DURATION}_count`) out[`${s.labels.kind}/${s.labels.result}`] = s.value;
  return out;
};

describe("farm metrics on /metrics", { timeout: 120_000 }, () => {
  let farm: Farm;
  let receiver: HttpReceiver;
  before(async () => {
    receiver = await startHttpReceiver();
    farm = await startFarm({
      // Retries a ten-thousandth of the real schedule: a delivery gives up within ~11 s.
      env: { DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback", DOCKYARD_NOTIFY_RETRY_SCALE: "0.0001" },
      agents: [{ name: "fm-shell", executor: "shell", capacity: 2 }],
    });
  });
  after(async () => {
    await farm?.stop();
    await receiver?.close();
  });
  const url = () => farm.server.httpUrl;

  it("a stage attempt's end is observed under its kind and result, with its run time", async () => {
    const before = durationCounts(await scrape(url()));
    const runId = await submit(
      farm.client,
      [
        "name: fm-durations",
        "stages:",
        '  ok: { executor: shell, command: "sleep 0.6" }',
        '  bad: { executor: shell, command: "exit 3" }',
        "",
      ].join("\n"),
    );
    assert.equal((await waitForRun(farm.client, runId)).state, "failed");
    const samples = await waitForScrape(
      url(),
      (s) => durationCounts(s)["command/failed"] === (before["command/failed"] ?? 0) + 1,
      { message: "the failed command stage in the histogram", show: durationCounts },
    );
    const counts = durationCounts(samples);
    assert.equal(counts["command/succeeded"], (before["command/succeeded"] ?? 0) + 1);
    // The succeeded attempt slept 0.6 s: it is not in the 0.1 s bucket, and it is in the 10 s one.
    const bucket = (le: string) =>
      valueOf(samples, `${DURATION}_bucket`, { kind: "command", result: "succeeded", le }) ?? -1;
    assert.equal(bucket("0.1"), before["command/succeeded"] ?? 0, "0.6 s is above the 0.1 s bucket");
    assert.equal(bucket("10"), (before["command/succeeded"] ?? 0) + 1);
    const sum = valueOf(samples, `${DURATION}_sum`, { kind: "command", result: "succeeded" }) ?? 0;
    // Start and end are the server's clock at the agent's reports: most of the sleep, not all of it.
    assert.ok(sum >= 0.3 && sum < 10, `sum ${sum} for a 0.6 s sleep`);
  });

  it("an approval waiting is counted until its decision; the server kind's end is in the histogram", async () => {
    const alice = await userClient(farm, "fm-alice");
    try {
      const runId = await submit(
        alice.client,
        "name: fm-gate\nstages:\n  gate: { type: approval, approvers: [fm-alice], timeout: 1h }\n",
      );
      await waitingReasonOf(farm, runId);
      await waitForScrape(url(), (s) => valueOf(s, "dockyard_approvals_waiting") === 1, {
        message: "one approval waiting",
        show: (s) => valueOf(s, "dockyard_approvals_waiting"),
      });
      await alice.client.decideApproval({ runId, stage: "gate", approve: true, comment: "" });
      const after = await waitForScrape(url(), (s) => valueOf(s, "dockyard_approvals_waiting") === 0, {
        message: "no approval waiting after the decision",
        show: (s) => valueOf(s, "dockyard_approvals_waiting"),
      });
      assert.equal(durationCounts(after)["approval/succeeded"], 1, "the approval's attempt ended succeeded");
    } finally {
      alice.client.close();
    }
  });

  it("a delivery due later is in the outbox until it is sent", async () => {
    await farm.client.addChannel({ name: "fm-ok", type: "webhook", url: receiver.url });
    const depth = (s: Sample[]) => valueOf(s, "dockyard_outbox_depth");
    const base = depth(await scrape(url())) ?? -1;
    assert.equal(base, 0, "nothing pending before");
    // A retry waiting for its time: written due in an hour, so it stays in the outbox.
    const [id] = await enqueueNotification(
      farm.server.db.db,
      { channels: ["fm-ok"], subject: "later", body: "b", context: { event: "test", status: "test" } },
      new Date(Date.now() + 3_600_000),
    );
    await waitForScrape(url(), (s) => depth(s) === 1, { message: "one delivery in the outbox", show: depth });
    await farm.pg.query("UPDATE deliveries SET next_attempt_at = now() WHERE id = $1", [id]);
    await waitFor(() => receiver.received.length === 1, { message: "the delivery sent" });
    await waitForScrape(url(), (s) => depth(s) === 0, { message: "the outbox empty once sent", show: depth });
  });

  it("a delivery to a channel nobody listens on gives up and is counted, from Postgres", async () => {
    const failed = (s: Sample[]) => valueOf(s, "dockyard_notify_failed_deliveries_total");
    assert.equal(failed(await scrape(url())), 0, "none gave up before");
    const port = await freePort(); // nothing listens there: every attempt is refused a connection
    await farm.client.addChannel({ name: "fm-dead", type: "webhook", url: `http://127.0.0.1:${port}/hook` });
    const [id] = await enqueueNotification(
      farm.server.db.db,
      { channels: ["fm-dead"], subject: "s", body: "b", context: { event: "test", status: "test" } },
      new Date(),
    );
    await waitFor(
      async () =>
        (await farm.pg.query("SELECT 1 FROM deliveries WHERE id = $1 AND state = 'failed'", [id])).rows.length === 1,
      { timeoutMs: 40_000, message: "the delivery to give up" },
    );
    await waitForScrape(url(), (s) => failed(s) === 1, { message: "one failed delivery counted", show: failed });
    // Kept apart from the rows: pruning the finished delivery does not take the count down. The
    // scrape that shows a delivery enqueued after the prune is a read made after it.
    await farm.pg.query("DELETE FROM deliveries WHERE id = $1", [id]);
    await enqueueNotification(
      farm.server.db.db,
      { channels: ["fm-dead"], subject: "later", body: "b", context: { event: "test", status: "test" } },
      new Date(Date.now() + 3_600_000),
    );
    const fresh = await waitForScrape(url(), (s) => valueOf(s, "dockyard_outbox_depth") === 1, {
      message: "a read after the prune",
    });
    assert.equal(failed(fresh), 1);
    assert.ok((seriesBy(fresh, "dockyard_notification_attempts_total", "result").failed ?? 0) >= 1);
  });
  it("a rollback run asked for by an alert is counted as alert, one a person asked for as requested", async () => {
    // The service's rows written directly (a real one needs Docker hosts: services-rollback.test.ts
    // drives those); the requests go through requestRollback and submit real runs.
    await farm.pg.query(`INSERT INTO services (name, proxy_port, current_revision, previous_revision, policy,
      created_at, updated_at) VALUES ('fm-svc', 18080, 2, 1, '{}', now(), now())`);
    const deps = {
      db: farm.server.db.db,
      signal: () => Promise.reject(new Error("no update holds fm-svc: no signal expected")),
      submit: (yaml: string) => submit(farm.client, yaml),
      now: () => new Date(),
    };
    const who = { user: "alertmanager", roles: ["operator"] };
    const rollbacks = (s: Sample[]) => seriesBy(s, "dockyard_service_rollbacks_total", "reason", { service: "fm-svc" });
    const first = await requestRollback(
      deps,
      { service: "fm-svc", reason: "journey failing", via: "http", reasonClass: "alert" },
      who,
    );
    assert.equal(first.mode, "run");
    await waitForScrape(url(), (s) => JSON.stringify(rollbacks(s)) === '{"alert":1}', {
      message: "one alert rollback of fm-svc, nothing else",
      show: rollbacks,
    });
    // Its run ends (revision 1 has no rows here) and leaves the deploy queue: the next request is a run too.
    await waitForRun(farm.client, first.runId);
    await requestRollback(deps, { service: "fm-svc", reason: "", via: "cli" }, who);
    await waitForScrape(url(), (s) => JSON.stringify(rollbacks(s)) === '{"alert":1,"requested":1}', {
      message: "the person's rollback counted as requested",
      show: rollbacks,
    });
    await assert.rejects(
      requestRollback(deps, { service: "fm-svc", reason: "", via: "cli", reasonClass: "health" as "alert" }, who),
      /reason class must be one of requested, alert, got 'health'/,
    );
  });
});
