// npm run bench -- alert
// The release loop's speed and its false alarms, on the e2e loop farm (test/src/helpers/alert-loop-farm.ts:
// a server, two agents on two engines, a real Pushgateway, Prometheus with ops' rules and Alertmanager,
// all at 1 s; a ui-test journey scheduled every 10 s, every second while the service updates; the agents are
// the built ones (dist/), as hosts run them).
// Rounds (BENCH_ROUNDS, default 5): a good revision is rolled out, then a bad one whose page answers 404
// (its health check passes). A poller GETs / on both host addresses every 50 ms:
//  - break_to_alert: from the first 404 the poller sees (the bad revision takes traffic) to the
//    server's receipt of DockyardJourneyFailing (alerts.received_at);
//  - break_to_rollback: from that first 404 to the last one (the service is back on the good
//    revision; the update has ended rolled back and both hosts answer the good page).
// Before the next round the alert must resolve (the journey passes twice), or Alertmanager would not post again.
// Then BENCH_FLAKY (default 20) single flaky runs: a journey against a local page that fails one run in three
// (1 of its last 3 failed: never an alert); false_alerts counts alerts for it.
// Targets: break_to_alert_p50_s <= 10, break_to_rollback_p50_s <= 15, false_alerts 0. Prints one JSON line last.
import http from "node:http";
import { startAlertLoopFarm, waitFor } from "@dockyard/test";
import { freePort } from "@dockyard/testkit";
import { quantile, round } from "./lib/stats";

const SERVICE = "bench-loop";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FLAKY = Number(process.env.BENCH_FLAKY ?? 20);

const loop = await startAlertLoopFarm(SERVICE, "shop", { builtAgents: true });
const { sf } = loop;

/** Polls / on every host address; the first and last time each status was seen. */
function poll() {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let on = true;
  const each = async (addr: string) => {
    while (on) {
      const status = await fetch(`http://${addr}/`, { signal: AbortSignal.timeout(2000) })
        .then(async (r) => (await r.arrayBuffer(), r.status))
        .catch(() => 0);
      const now = Date.now();
      if (!first.has(status)) first.set(status, now);
      last.set(status, now);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const done = Promise.all(sf.addresses().map(each));
  return { first, last, stop: async () => ((on = false), await done) };
}

const alertRows = async (journey: string, since: Date) =>
  (
    await sf.farm.pg.query<{ received_at: Date; status: string }>(
      `SELECT received_at, status FROM alerts WHERE alertname = 'DockyardJourneyFailing'
       AND labels->>'journey' = $1 AND received_at >= $2 ORDER BY received_at`,
      [journey, since],
    )
  ).rows;

const firingNow = async (journey: string) =>
  (
    await sf.farm.pg.query(
      `SELECT 1 FROM alerts WHERE alertname = 'DockyardJourneyFailing' AND labels->>'journey' = $1
       AND status = 'firing'`,
      [journey],
    )
  ).rowCount! > 0;

const toAlert: number[] = [];
const toRollback: number[] = [];
let falseAlerts = 0;
try {
  for (let round_ = 1; round_ <= ROUNDS; round_++) {
    const good = await sf.waitStageEnd(await loop.release({ GREETING: "shop", REV: String(round_ * 2) }, "0s"));
    if (good.state !== "succeeded") throw new Error(`round ${round_}: the good release ${good.state}: ${good.reason}`);
    await waitFor(async () => !(await firingNow("shop")), {
      timeoutMs: 120_000,
      intervalMs: 500,
      message: "the previous round's alert to resolve",
    });
    const since = new Date();
    const p = poll();
    const bad = await loop.release({ GREETING: "shop", REV: String(round_ * 2 + 1), BROKEN: "1" }, "120s");
    const end = await sf.waitStageEnd(bad, 180_000);
    if (!/alert DockyardJourneyFailing/.test(end.reason ?? ""))
      throw new Error(`round ${round_}: the bad release ended ${end.state}: ${end.reason}`);
    // Both hosts answer the good page again before the poller stops.
    await waitFor(() => (p.last.get(200) ?? 0) > (p.last.get(404) ?? 0) + 500, {
      timeoutMs: 30_000,
      message: "the good page on every poll",
    });
    await p.stop();
    const broke = p.first.get(404);
    const [alert] = await alertRows("shop", since);
    if (broke === undefined || !alert) throw new Error(`round ${round_}: no 404 seen or no alert stored`);
    toAlert.push((alert.received_at.getTime() - broke) / 1000);
    toRollback.push((p.last.get(404)! - broke) / 1000);
    console.error(`round ${round_}: alert ${round(toAlert.at(-1)!)} s, rollback ${round(toRollback.at(-1)!)} s`);
  }

  // Flaky: one failed run in three against a page of our own, run as single-stage pipelines one after another.
  let n = 0;
  const page = http.createServer((_req, res) => {
    const fail = n++ % 3 === 0;
    res.writeHead(fail ? 500 : 200, { "content-type": "text/html" }).end("<h1>shop</h1>");
  });
  const port = await freePort();
  await new Promise<void>((r) => page.listen(port, "127.0.0.1", r));
  const since = new Date();
  const flakyPipeline = [
    "name: flaky-journey",
    "stages:",
    "  flaky:",
    "    type: ui-test",
    "    journey: flaky",
    "    env: bench",
    `    url: http://127.0.0.1:${port}`,
    "    retries: 0",
    "    steps:",
    "      - goto: /",
    "      - expect: { status: 200 }",
    "",
  ].join("\n");
  let failedRuns = 0;
  for (let i = 0; failedRuns < FLAKY; i++) {
    const res = await sf.farm.client.submitRun({ pipelineYaml: Buffer.from(flakyPipeline), source: "bench:flaky.yml" });
    const s = await sf.waitStageEnd(res.run!.id, 60_000, "flaky");
    if (s.state === "failed") failedRuns++;
  }
  // Prometheus has scraped the last push and evaluated the rules at least twice since, then count.
  const lastPush = Date.now();
  await waitFor(
    async () => {
      const rules = (await (await fetch(`${loop.mon.prometheusUrl}/api/v1/rules`)).json()) as {
        data: { groups: { lastEvaluation: string }[] };
      };
      return rules.data.groups.every((g) => Date.parse(g.lastEvaluation) > lastPush + 2000);
    },
    { timeoutMs: 10_000, intervalMs: 200, message: "two rule evaluations after the last push" },
  );
  falseAlerts = (await alertRows("flaky", since)).length;
  page.close();

  const p50 = (xs: number[]) => round(quantile(xs, 0.5));
  console.log(JSON.stringify({ break_to_alert_s: toAlert.map(round), break_to_rollback_s: toRollback.map(round) }));
  console.log(
    JSON.stringify({
      bench: "alert",
      runs: ROUNDS,
      break_to_alert_p50_s: p50(toAlert),
      break_to_alert_max_s: round(Math.max(...toAlert)),
      break_to_rollback_p50_s: p50(toRollback),
      false_alerts: falseAlerts,
      flaky_runs: FLAKY,
    }),
  );
} finally {
  await loop.stop();
}
process.exit(0);
