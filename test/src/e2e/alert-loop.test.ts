// The release loop with no hand in it, on real parts: a scheduled ui-test journey (real Chromium,
// run by an agent) against a service on two hosts pushes its results to a real Pushgateway;
// Prometheus evaluates ops/prometheus's rules at 1 s; Alertmanager posts DockyardJourneyFailing to
// the server's receiver with the bearer token; the alert rolls back the update in its watch window,
// and the release pipeline's `on: [alert]` rule tells its channel once. The bad revision passes its
// health check (only its page is missing): the journey is what sees it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startMonitoring, tempDir, type Monitoring } from "@dockyard/testkit";
import {
  assertOneRevision,
  bodiesOver,
  releasePipeline,
  serviceFile,
  ServiceFarm,
  startHttpReceiver,
  ticksOf,
  waitFor,
  type HttpReceiver,
} from "../index";

const TOKEN = `alert-${randomBytes(16).toString("hex")}`;
// Its own service name: another suite's services on the same engines are not ours to touch.
const SERVICE = "loop-web";

const journeyPipeline = [
  "name: shop-journey",
  "stages:",
  "  shop:",
  "    type: ui-test",
  "    journey: shop",
  `    service: ${SERVICE}`,
  "    steps:",
  "      - goto: /",
  "      - expect: { status: 200 }",
  "      - expect: { text: shop }",
  "",
].join("\n");

describe(
  "the alert loop: journey, Pushgateway, Prometheus, Alertmanager, receiver, rollback",
  { timeout: 600_000 },
  () => {
    let sf: ServiceFarm;
    let hook: HttpReceiver;
    let mon: Monitoring | undefined;
    const files = (env: Record<string, string>, watchWindow: string) => ({
      "services/web.yml": serviceFile({ name: SERVICE, proxyPort: sf.proxyPort, env, watchWindow }),
    });
    const pipeline = releasePipeline(SERVICE).replace(
      "stages:",
      'notify:\n  - on: [alert]\n    channels: [loop-hook]\n    subject: "{{ alert.name }}: {{ alert.summary }}"\nstages:',
    );

    before(async () => {
      const tokenFile = path.join(tempDir("alert-loop-token"), "token");
      writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
      hook = await startHttpReceiver();
      sf = new ServiceFarm({
        env: {
          DOCKYARD_ALERT_TOKEN_FILE: tokenFile,
          DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback",
          DOCKYARD_CONTINUOUS_INTERVAL: "2s",
        },
      });
      await sf.start({
        beforeAgents: async () => {
          const server = sf.farm.servers[0]!.http;
          mon = await startMonitoring({
            scrapeTargets: [server],
            receiverUrl: `http://${server}/api/v1/alerts/alertmanager`,
            receiverTokenFile: tokenFile,
          });
          sf.agentEnv.DOCKYARD_PUSHGATEWAY_URL = mon.pushgatewayUrl;
        },
      });
      await sf.farm.client.addChannel({ name: "loop-hook", type: "webhook", url: hook.url });
      const run = await sf.release(files({ GREETING: "shop", REV: "1" }, "0s"), pipeline);
      assert.equal((await sf.waitStageEnd(run)).state, "succeeded");
      // Every 10 s (the shortest a schedule may be), every 2 s while the service updates.
      await sf.farm.client.createSchedule({
        name: "shop",
        cron: "*/10 * * * * *",
        pipelineYaml: Buffer.from(journeyPipeline),
        source: "test:journey.yml",
      });
    });
    after(async () => {
      await mon?.stop();
      await hook?.close();
      await sf?.stop();
    });

    it("a release whose page is broken (its health check passes) is rolled back by the journey's alert, notified once", async () => {
      const run = await sf.release(files({ GREETING: "shop", REV: "2", BROKEN: "1" }, "90s"), pipeline);
      const stage = await sf.waitStageEnd(run, 120_000);
      assert.equal(stage.state, "failed", stage.reason ?? "");
      assert.match(stage.reason ?? "", /rolled back to revision 1: alert DockyardJourneyFailing: journey shop/);
      assert.equal(stage.outputs?.values.rolled_back, "true");
      await assertOneRevision(SERVICE, 1);
      assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["shop rev1"], "the good page is back");

      // The journeys that saw it: continuous ticks while the update rolled and watched, failed runs among them.
      const ticks = await ticksOf(sf.farm, "shop");
      assert.ok(ticks.filter((t) => t.kind === "continuous" && t.runId).length >= 2, JSON.stringify(ticks));

      // The alert is stored once and listed; it resolves once the journey passes again on revision 1 (a second post
      // from Alertmanager, for the same alert), and its notification arrived once.
      type Listed = { alertname: string; status: string; labels: Record<string, string>; rollback: unknown };
      const listed = async () =>
        (JSON.parse((await sf.cli(["alerts", "--json"])).stdout) as Listed[]).filter(
          (a) => a.alertname === "DockyardJourneyFailing" && a.labels.journey === "shop",
        );
      const [firing] = await listed();
      assert.ok(firing, "the alert in `dockyard alerts`");
      assert.equal(firing.labels.service, SERVICE);
      assert.ok(firing.rollback, "the alert's row names the rollback it made");
      const resolved = await waitFor(
        async () => {
          const list = await listed();
          return list.length === 1 && list[0]!.status === "resolved" ? list : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500, message: "the alert resolved by passing journeys, still one row" },
      );
      assert.equal(resolved.length, 1);
      const alertMessages = [...hook.uniqueDelivered().values()].filter((r) =>
        r.body.includes("DockyardJourneyFailing"),
      );
      assert.equal(alertMessages.length, 1, "one notification for one alert, whatever Alertmanager posted again");
    });
  },
);
