// Every dashboard query, its variables substituted as Grafana would, run against a live Prometheus
// must return at least one series. Prometheus scrapes a real server of a service farm (two
// Docker agents) that released a service twice and ran a passing and a failing pipeline, and a
// Pushgateway holding two journey runs pushed by the agent's own ui-test push: `checkout` passing,
// `login` on the service failing 2 of its last 3 runs. With the repository's rules loaded,
// DockyardJourneyFailing fires, Alertmanager posts it to the server, and the server rolls the
// second release back (reason alert): so rollbacks, revisions and received alerts have series
// too. A query with no series names a metric not served, a label not there, or a bad selector.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { dashboards } from "@dockyard/ops";
import { startMonitoring, tempDir, type Monitoring } from "@dockyard/testkit";
import { releasePipeline, serviceFile, ServiceFarm, submit, waitFor, waitForRun, type RunClient } from "../index";
import { panelsOf, targetsOf } from "./dashboard-lint";
import { pushJourneyMetrics, type JourneyRunMetrics } from "@dockyard/agent";

// $__rate_interval is max(4 × scrape interval, step + scrape interval) in Grafana; with 1 s
// scrapes 4s would do, 30s keeps several samples of every counter without waiting for them.
const RATE_INTERVAL = "30s";
const TOKEN = `dash-${randomBytes(16).toString("hex")}`;
// Its own service name: another suite's services on the same engines are not ours to touch.
const SERVICE = "dash-web";

/** The query as Grafana sends it: interval variables become durations, label variables "All" (`.*`). */
function substitute(expr: string): string {
  return expr
    .replace(/\$\{?__rate_interval\}?/g, RATE_INTERVAL)
    .replace(/\$\{?__(interval|range)\}?/g, "1m")
    .replace(/\$\{?(\w+)\}?/g, ".*");
}

const queries = Object.entries(dashboards).flatMap(([name, d]) =>
  panelsOf(d).flatMap((p) =>
    targetsOf(p).map((t) => ({ where: `${name} '${p.title ?? ""}' ${t.refId ?? ""}`, expr: substitute(t.expr) })),
  ),
);

const pipeline = (name: string, command: string) =>
  [
    `name: ${name}`,
    "stages:",
    "  one:",
    "    image: dockyard/busybox:1",
    `    commands: [${JSON.stringify(command)}]`,
    "",
  ].join("\n");

describe("Grafana dashboards against a live Prometheus", { timeout: 600_000 }, () => {
  let sf: ServiceFarm;
  let mon: Monitoring;
  /** How the second release ended (rolled back by the alert), for the failure message. */
  let secondRelease = "";
  let watching = "";
  /** Instant query: the result vector (throws with Prometheus's error when the query is rejected). */
  const query = async (expr: string) => {
    const res = await fetch(`${mon.prometheusUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: unknown[] };
    };
    if (body.status !== "success") throw new Error(`Prometheus rejected '${expr}': ${body.error ?? res.status}`);
    return body.data?.resultType === "vector" ? body.data.result : [];
  };
  const files = (rev: string, watchWindow = "0s") => ({
    "services/web.yml": serviceFile({
      name: SERVICE,
      proxyPort: sf.proxyPort,
      env: { GREETING: "hi", REV: rev },
      watchWindow,
    }),
  });

  before(async () => {
    const tokenFile = path.join(tempDir("dash-token"), "token");
    writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
    sf = new ServiceFarm({ env: { DOCKYARD_ALERT_TOKEN_FILE: tokenFile } });
    await sf.start();
    const server = sf.farm.servers[0]!.http;
    // The repository's Prometheus, rules and Alertmanager configs, at 1 s intervals.
    mon = await startMonitoring({
      scrapeTargets: [server],
      receiverUrl: `http://${server}/api/v1/alerts/alertmanager`,
      receiverTokenFile: tokenFile,
    });
    const first = await sf.release(files("1"), releasePipeline(SERVICE));
    const firstEnd = await sf.waitStageEnd(first);
    assert.equal(firstEnd.state, "succeeded", `first release: ${firstEnd.reason ?? ""}`);
    const client = sf.farm.client as unknown as RunClient;
    const [pass, fail] = [
      await submit(client, pipeline("dash-pass", "echo ok")),
      await submit(client, pipeline("dash-fail", "exit 3")),
    ];
    assert.equal((await waitForRun(client, pass, 120_000)).state, "succeeded");
    assert.equal((await waitForRun(client, fail, 120_000)).state, "failed");
    // The second release watches its revision for 45 s: an alert naming the service in that window rolls it back.
    const second = await sf.release(files("2", "45s"), releasePipeline(SERVICE));
    // Its watch window (or its end: a release that fails rolls back by itself, which serves as well).
    await waitFor(
      async () => {
        const stage = await sf.stageOf(second);
        return (
          /watching revision/.test(stage?.reason ?? "") ||
          !["queued", "assigned", "running"].includes(stage?.state ?? "queued")
        );
      },
      { timeoutMs: 150_000, intervalMs: 200, message: "the second release to reach its watch window" },
    );
    watching = `${(await sf.stageOf(second))?.reason ?? ""} (pushed at ${new Date().toISOString()})`;
    const now = Date.now();
    const run: Omit<JourneyRunMetrics, "journey" | "env" | "service" | "success" | "checksPassed" | "checksFailed"> = {
      revision: 2,
      durationMs: 1200,
      steps: [
        { name: "open home", durationMs: 210 },
        { name: "add to cart", durationMs: 350 },
      ],
      vitals: { ttfb: 20, fcp: 150, lcp: 300, cls: 0.02 },
      lastSuccessMs: now - 600_000,
      endedMs: now,
      recentFailures: 0,
      recentRuns: 3,
      thresholdMs: 5000,
      expectEveryMs: 300_000,
    };
    // With the agent's own push (what a ui-test stage does after a journey run).
    await pushJourneyMetrics(mon.pushgatewayUrl, {
      ...run,
      journey: "checkout",
      env: "staging",
      service: "",
      success: true,
      checksPassed: 4,
      checksFailed: 0,
      lastSuccessMs: now,
    });
    await pushJourneyMetrics(mon.pushgatewayUrl, {
      ...run,
      journey: "login",
      env: SERVICE,
      service: SERVICE,
      success: false,
      checksPassed: 1,
      checksFailed: 2,
      recentFailures: 2,
    });
    // DockyardJourneyFailing fires on login (2 of 3), Alertmanager posts it, the server rolls back.
    const end = await sf.waitStageEnd(second, 120_000);
    secondRelease = `${end.state}: ${end.reason ?? ""}`;
    const rollbacks = async () =>
      /^dockyard_service_rollbacks_total\{/m.test(await (await fetch(`http://${server}/metrics`)).text());
    if (!(await rollbacks())) {
      // The alert did not meet the watch window (the alerts table says why, in the failure message):
      // an operator's rollback gives the rollbacks and the revision's step down their series.
      const out = await sf.cli(["services", "rollback", SERVICE, "--reason", "dashboard test", "--json"]);
      assert.equal(out.code, 0, out.stderr);
      const { runId } = JSON.parse(out.stdout) as { runId: string };
      const back = await sf.waitStageEnd(runId, 120_000, "rollback");
      assert.equal(back.state, "succeeded", back.reason ?? "");
      secondRelease += "; then rolled back by `dockyard services rollback`";
    }
  });
  after(async () => {
    await mon?.stop();
    await sf?.stop();
  });

  it("returns at least one series for every query", async (t) => {
    t.diagnostic(`the second release was ${watching}, ended ${secondRelease}`);
    assert.ok(queries.length >= 30, `${queries.length} queries`);
    const missing = new Map<string, string>();
    // Scrapes are 1 s apart and rates need two samples in their window: poll until every query
    // answers or the deadline passes, then name the ones that never did.
    await waitFor(
      async () => {
        missing.clear();
        for (const q of queries) if ((await query(q.expr)).length === 0) missing.set(q.where, q.expr);
        return missing.size === 0;
      },
      { timeoutMs: 20_000, intervalMs: 1_000, message: "every dashboard query to return a series" },
    ).catch(() => undefined);
    const report = [...missing].map(([where, expr]) => `  ${where}: ${expr}`).join("\n");
    // What the farm did, so a missing series can be told from a missing event.
    const served = (await (await fetch(`http://${sf.farm.servers[0]!.http}/metrics`)).text())
      .split("\n")
      .filter((l) => /^dockyard_(service_|alerts_received)/.test(l))
      .join("\n  ");
    const pushed = (await (await fetch(`${mon.pushgatewayUrl}/metrics`)).text())
      .split("\n")
      .filter((l) => /^(push_time_seconds|dockyard_synthetic_journey_recent_failures)/.test(l))
      .join("\n  ");
    const alerts = (
      await sf.farm.pg.query<{ alertname: string; status: string; labels: unknown; actions: unknown }>(
        "SELECT * FROM alerts ORDER BY starts_at",
      )
    ).rows.map((r) => JSON.stringify(r));
    assert.equal(
      missing.size,
      0,
      [
        `${missing.size} of ${queries.length} queries returned no series:\n${report}`,
        `the second release was ${watching}, ended ${secondRelease} at ${new Date().toISOString()}`,
        `the server serves:\n  ${served}`,
        `pushed:\n  ${pushed}`,
        `alerts:\n  ${alerts.join("\n  ")}`,
      ].join("\n"),
    );
  });

  it("positive control: a selector that matches nothing returns no series, and a bad query is rejected", async () => {
    assert.ok((await query("max(dockyard_queue_depth)")).length > 0);
    assert.deepEqual(await query('max(dockyard_queue_depth{job="not-a-job"})'), []);
    await assert.rejects(query("sum(rate(dockyard_queue_depth[$__rate_interval]))"), /Prometheus rejected/);
  });
});
