// The release loop with no hand in it, on real parts: a scheduled ui-test journey (real Chromium,
// run by an agent) against a service on two hosts pushes its results to a real Pushgateway;
// Prometheus evaluates ops/prometheus's rules at 1 s; Alertmanager posts DockyardJourneyFailing to
// the server's receiver with the bearer token; the alert rolls back the update in its watch window,
// and the release pipeline's `on: [alert]` rule tells its channel once. The bad revision passes its
// health check (only its page is missing): the journey is what sees it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertOneRevision, bodiesOver, startAlertLoopFarm, ticksOf, waitFor, type AlertLoopFarm } from "../index";

// Its own service name: another suite's services on the same engines are not ours to touch.
const SERVICE = "loop-web";

describe(
  "the alert loop: journey, Pushgateway, Prometheus, Alertmanager, receiver, rollback",
  { timeout: 600_000 },
  () => {
    let loop: AlertLoopFarm;
    before(async () => {
      loop = await startAlertLoopFarm(SERVICE, "shop");
    });
    after(async () => {
      await loop?.stop();
    });

    it("a release whose page is broken (its health check passes) is rolled back by the journey's alert, notified once", async () => {
      const { sf, hook } = loop;
      // The control: the journey passes against the good revision (a broken runner would fail it too, and the
      // alert below would then say nothing about the page).
      const journeyStage = async (runId: string) => sf.stageOf(runId, "shop");
      await waitFor(
        async () => {
          for (const t of await ticksOf(sf.farm, "shop"))
            if (t.runId && (await journeyStage(t.runId))?.state === "succeeded") return true;
          return false;
        },
        { timeoutMs: 60_000, intervalMs: 500, message: "a scheduled journey passing against revision 1" },
      );
      const before = (await ticksOf(sf.farm, "shop")).length;
      const run = await loop.release({ GREETING: "shop", REV: "2", BROKEN: "1" }, "90s");
      const stage = await sf.waitStageEnd(run, 120_000);
      assert.equal(stage.state, "failed", stage.reason ?? "");
      assert.match(stage.reason ?? "", /rolled back to revision 1: alert DockyardJourneyFailing: journey shop/);
      assert.equal(stage.outputs?.values.rolled_back, "true");
      await assertOneRevision(SERVICE, 1);
      assert.deepEqual([...(await bodiesOver(sf.addresses()))], ["shop rev1"], "the good page is back");

      // The journeys that saw it: continuous ticks while the update rolled and watched (a minute's cron tick may
      // also land in the window and run one of them: under load a journey takes 10 s, and it holds the next tick
      // off), failed runs among them.
      const ticks = (await ticksOf(sf.farm, "shop")).slice(before);
      assert.ok(ticks.filter((t) => t.runId).length >= 2, JSON.stringify(ticks));
      assert.ok(
        ticks.some((t) => t.kind === "continuous" && t.runId),
        `a continuous tick ran: ${JSON.stringify(ticks)}`,
      );
      const failed = [];
      for (const t of ticks) {
        const s = t.runId ? await journeyStage(t.runId) : undefined;
        if (s?.state === "failed") failed.push(s.reason ?? "");
      }
      assert.ok(failed.length >= 2, `two failed journeys at least: ${JSON.stringify(failed)}`);
      for (const reason of failed) assert.match(reason, /failed at step '.*': expected status 200, got 404/);

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
