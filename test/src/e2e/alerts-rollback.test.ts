// An alert that names a service rolls back the update holding it, on two hosts: posted inside the
// update's watch window, the update ends rolled back with the alert in its reason and the
// service's history, audited as the actor `alertmanager`, and the pipeline's `notify: on: [alert]`
// rule tells its channel; the same kind of alert once the update ended rolls nothing back (no
// switch, no rollback run) and its row says why. Both in one test: the second is the first's
// negative, against the same farm and service.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { tempDir } from "@dockyard/testkit";
import {
  assertOneRevision,
  bodiesOver,
  releasePipeline,
  serviceFile,
  ServiceFarm,
  startHttpReceiver,
  waitFor,
  type HttpReceiver,
} from "../index";

const TOKEN = `alert-${randomBytes(16).toString("hex")}`;
// Its own service name: another suite's "web" on the same engines is not ours to touch.
const SERVICE = "alert-web";
const SUMMARY = "journey checkout on staging failed in 2 of its last 3 runs";

const journeyAlert = (fingerprint: string, startsAt: string) =>
  JSON.stringify({
    version: "4",
    status: "firing",
    receiver: "dockyard",
    groupKey: "{}",
    alerts: [
      {
        status: "firing",
        labels: { alertname: "DockyardJourneyFailing", journey: "checkout", env: "staging", service: SERVICE },
        annotations: { summary: SUMMARY },
        startsAt,
        endsAt: "0001-01-01T00:00:00Z",
        generatorURL: "",
        fingerprint,
      },
    ],
  });

describe("alerts: rolling back the update that holds the service", { timeout: 600_000 }, () => {
  let sf: ServiceFarm;
  let hook: HttpReceiver;
  const files = (env: Record<string, string>, extra: Partial<Parameters<typeof serviceFile>[0]> = {}) => ({
    "services/web.yml": serviceFile({ name: SERVICE, proxyPort: sf.proxyPort, env, ...extra }),
  });
  const pipeline = releasePipeline(SERVICE).replace(
    "stages:",
    'notify:\n  - on: [alert]\n    channels: [alert-hook]\n    subject: "{{ run.name }}: {{ alert.name }} {{ alert.summary }}"\nstages:',
  );

  before(async () => {
    const tokenFile = path.join(tempDir("alert-token"), "token");
    writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
    hook = await startHttpReceiver();
    sf = new ServiceFarm({
      env: { DOCKYARD_ALERT_TOKEN_FILE: tokenFile, DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback" },
    });
    await sf.start();
    await sf.farm.client.addChannel({ name: "alert-hook", type: "webhook", url: hook.url });
    const run = await sf.release(files({ GREETING: "stable", REV: "1" }), pipeline);
    assert.equal((await sf.waitStageEnd(run)).state, "succeeded");
  });
  after(async () => {
    await hook?.close();
    await sf?.stop();
  });

  const post = (body: string) =>
    fetch(`http://${sf.farm.servers[0]!.http}/api/v1/alerts/alertmanager`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body,
    });
  const actionsOf = async (fingerprint: string) =>
    (
      await sf.farm.pg.query<{
        actions: {
          notified: string[];
          pipelineRunId: string | null;
          rollback: { runId: string; service: string; mode: string; revision: number | null } | null;
          noRollback: string;
        };
      }>("SELECT actions FROM alerts WHERE fingerprint = $1", [fingerprint])
    ).rows[0]?.actions;
  const runCount = async () => Number((await sf.farm.pg.query("SELECT count(*) AS n FROM runs")).rows[0].n);

  it("inside the watch window the update rolls back with the alert as its reason; after it ended, nothing rolls back", async () => {
    const run = await sf.release(files({ GREETING: "regret", REV: "2" }, { watchWindow: "90s" }), pipeline);
    await waitFor(async () => /watching revision/.test((await sf.stageOf(run))?.reason ?? ""), {
      timeoutMs: 90_000,
      message: "the update to reach its watch window",
    });
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["regret rev2"]);

    const res = await post(journeyAlert("3d3d3d3d3d3d3d3d", new Date().toISOString()));
    assert.equal(res.status, 200, await res.clone().text());
    const stage = await sf.waitStageEnd(run);
    assert.equal(stage.state, "failed");
    assert.equal(stage.reason, `rolled back to revision 1: alert DockyardJourneyFailing: ${SUMMARY}`);
    assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["stable rev1"]);
    await assertOneRevision(SERVICE, 1);
    const first = await actionsOf("3d3d3d3d3d3d3d3d");
    assert.deepEqual(first?.rollback, { runId: run, service: SERVICE, mode: "switch", revision: 2 });
    assert.equal(first?.pipelineRunId, run, "the run updating the service is the alert's pipeline");
    assert.deepEqual(first?.notified, ["alert-hook"]);
    const history = JSON.parse((await sf.cli(["services", "history", SERVICE, "--json"])).stdout) as {
      revision: number;
      action: string;
      reason: string;
      until: string | null;
    }[];
    const open = history.filter((h) => h.until === null);
    assert.ok(
      open.length === 2 && open.every((h) => h.revision === 1 && h.reason.includes("alert DockyardJourneyFailing")),
      JSON.stringify(open),
    );
    const audit = await sf.farm.pg.query<{ actor: string; details: { via: string; comment: string } }>(
      "SELECT actor, details FROM audit_log WHERE action = 'service.rollback'",
    );
    assert.equal(audit.rows.length, 1, "the rollback is in the audit log");
    assert.equal(audit.rows[0]!.actor, "alertmanager");
    assert.equal(audit.rows[0]!.details.via, "alertmanager");
    const told = await waitFor(() => hook.received.find((r) => r.body.includes("DockyardJourneyFailing")), {
      timeoutMs: 30_000,
      message: "the pipeline's alert notification",
    });
    assert.match(
      (JSON.parse(told.body) as { data: { subject: string } }).data.subject,
      /^release: DockyardJourneyFailing journey checkout/,
    );

    // The update ended: the same alert again (a new occurrence) is stored and notified, and rolls nothing back.
    const runsBefore = await runCount();
    const later = await post(journeyAlert("4e4e4e4e4e4e4e4e", new Date().toISOString()));
    assert.equal(later.status, 200, await later.clone().text());
    const second = await actionsOf("4e4e4e4e4e4e4e4e");
    assert.equal(second?.rollback, null);
    assert.equal(second?.noRollback, `no update of service '${SERVICE}' is in progress`);
    assert.deepEqual(second?.notified, ["alert-hook"]);
    assert.equal(await runCount(), runsBefore, "no rollback run was started");
    assert.equal(
      (await sf.farm.pg.query("SELECT 1 FROM audit_log WHERE action = 'service.rollback'")).rows.length,
      1,
      "no second rollback",
    );
    await assertOneRevision(SERVICE, 1);
    const out = await sf.cli(["alerts"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`rolled back ${SERVICE} \\(run ${run}\\)`));
    assert.match(out.stdout, /no rollback: no update of service 'alert-web' is in progress/);
  });
});
