// Every dashboard query, its variables substituted as Grafana would, run against a live Prometheus
// must return at least one series: Prometheus scrapes a real server (a shell agent ran a passing
// and a failing pipeline, so the stage and attempt metrics exist) and a Pushgateway holding two
// journey runs pushed as a ui-test stage pushes them (one passing, one failing 2 of its last 3, so
// DockyardJourneyFailing fires when the rules file is there). A query with no series names a
// metric that is not served, a label that is not there, or a selector that matches nothing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { dashboards } from "@dockyard/ops";
import { REPO_ROOT, startFarm, submit, waitForRun, type Farm } from "../index";
import { panelsOf, targetsOf } from "./dashboard-lint";
import { startLivePrometheus, type LivePrometheus } from "./live-prometheus";
import { pushJourneyRun } from "./push-synthetic";
import { waitFor } from "../helpers/wait";

// $__rate_interval is max(4 × scrape interval, step + scrape interval) in Grafana; with 1 s
// scrapes 4s would do, 30s keeps several samples of every counter without waiting for them.
const RATE_INTERVAL = "30s";
const RULES = path.join(REPO_ROOT, "ops/prometheus/rules/dockyard.rules.yml");

/** The query as Grafana sends it: interval variables become durations, label variables "All" (`.*`). */
function substitute(expr: string): string {
  return expr
    .replace(/\$\{?__rate_interval\}?/g, RATE_INTERVAL)
    .replace(/\$\{?__(interval|range)\}?/g, "1m")
    .replace(/\$\{?(\w+)\}?/g, ".*");
}

interface Query {
  where: string;
  expr: string;
}

const queries: Query[] = Object.entries(dashboards).flatMap(([name, d]) =>
  panelsOf(d).flatMap((p) =>
    targetsOf(p).map((t) => ({ where: `${name} '${p.title ?? ""}' ${t.refId ?? ""}`, expr: substitute(t.expr) })),
  ),
);

describe("Grafana dashboards against a live Prometheus", () => {
  let farm: Farm;
  let prom: LivePrometheus;
  before(async () => {
    farm = await startFarm({ agents: [{ name: "dash-a", executor: "shell" }] });
    const target = new URL(farm.server.httpUrl).host;
    prom = await startLivePrometheus({ targets: [target], ruleFiles: existsSync(RULES) ? [RULES] : [] });
    const pass = await submit(
      farm.client,
      `
name: dash-pass
stages:
  build:
    executor: shell
    commands: ["echo built"]
  test:
    executor: shell
    needs: [build]
    commands: ["echo tested"]
`,
    );
    const fail = await submit(
      farm.client,
      `
name: dash-fail
stages:
  broken:
    executor: shell
    commands: ["exit 3"]
`,
    );
    assert.equal((await waitForRun(farm.client, pass)).state, "succeeded");
    assert.equal((await waitForRun(farm.client, fail)).state, "failed");
    const now = Math.floor(Date.now() / 1000);
    const run = {
      steps: { "open home": 0.21, "add to cart": 0.35 },
      vitals: { ttfb: 0.02, fcp: 0.15, lcp: 0.3 },
      cls: 0.02,
      thresholdSeconds: 5,
      intervalSeconds: 300,
      endedAt: now,
    };
    await pushJourneyRun(prom.pushgatewayUrl, {
      ...run,
      journey: "checkout",
      env: "staging",
      service: "shop",
      revision: "3",
      success: true,
      durationSeconds: 1.2,
      checks: { passed: 4, failed: 0 },
      recentFailures: 0,
      recentRuns: 3,
      lastSuccessAt: now,
    });
    await pushJourneyRun(prom.pushgatewayUrl, {
      ...run,
      journey: "login",
      env: "default",
      success: false,
      durationSeconds: 2.5,
      checks: { passed: 1, failed: 2 },
      recentFailures: 2,
      recentRuns: 3,
      lastSuccessAt: now - 600,
    });
  });
  after(async () => {
    await prom?.stop();
    await farm?.stop();
  });

  it("returns at least one series for every query", async () => {
    assert.ok(queries.length >= 30, `${queries.length} queries`);
    const missing = new Map<string, string>();
    // Scrapes are 1 s apart and rates need two samples in their window: poll until every query
    // answers or the deadline passes, then name the ones that never did.
    await waitFor(
      async () => {
        missing.clear();
        for (const q of queries) if ((await prom.query(q.expr)).length === 0) missing.set(q.where, q.expr);
        return missing.size === 0;
      },
      { timeoutMs: 20_000, intervalMs: 1_000, message: "every dashboard query to return a series" },
    ).catch(() => undefined);
    const report = [...missing].map(([where, expr]) => `  ${where}: ${expr}`).join("\n");
    assert.equal(missing.size, 0, `${missing.size} of ${queries.length} queries returned no series:\n${report}`);
  });

  it("positive control: a selector that matches nothing returns no series, and a bad query is rejected", async () => {
    assert.ok((await prom.query("max(dockyard_queue_depth)")).length > 0);
    assert.deepEqual(await prom.query('max(dockyard_queue_depth{job="not-a-job"})'), []);
    await assert.rejects(prom.query("sum(rate(dockyard_queue_depth[$__rate_interval]))"), /Prometheus rejected/);
  });
});
