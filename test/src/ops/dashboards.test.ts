// The Grafana dashboards (ops/grafana/dashboards/*.ts) pass the linter, keep their uids, and the
// committed JSON is what the generator writes; a deliberately bad dashboard shows the linter
// catches each kind of mistake. (dashboards-live.test.ts runs every query against a live Prometheus.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { dashboard, dashboards, labelVariable } from "@dockyard/ops";
import { lintDashboard, lintExpr, panelsOf, targetsOf } from "./dashboard-lint";
import { fileURLToPath } from "node:url";

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
// Stable: Grafana links, bookmarks and provisioning name a dashboard by its uid.
const UIDS = { farm: "dockyard-farm", releases: "dockyard-releases", synthetic: "dockyard-synthetic" };

describe("Grafana dashboards", () => {
  it("keep their uids, which are unique", () => {
    const uids = Object.fromEntries(Object.entries(dashboards).map(([name, d]) => [name, d.uid]));
    assert.deepEqual(uids, UIDS);
    assert.equal(new Set(Object.values(uids)).size, Object.keys(uids).length);
  });

  for (const [name, d] of Object.entries(dashboards)) {
    it(`${name}: every panel passes the linter (PromQL parses, datasource variable, unit, $__rate_interval)`, () => {
      assert.deepEqual(lintDashboard(d), []);
      assert.ok(panelsOf(d).length >= 5, `${name} has ${panelsOf(d).length} panels`);
    });
  }

  it("filter the synthetic journeys by journey, env and service, and releases by service", () => {
    for (const p of panelsOf(dashboards.synthetic!)) {
      for (const t of targetsOf(p)) {
        for (const v of ["journey", "env", "service"]) assert.match(t.expr, new RegExp(`${v}=~"\\$${v}"`), p.title);
      }
    }
    const releases = panelsOf(dashboards.releases!).flatMap(targetsOf);
    assert.ok(releases.filter((t) => t.expr.includes('service=~"$service"')).length >= 3);
  });

  it("are committed as the JSON the generator writes", async () => {
    for (const [name, d] of Object.entries(dashboards)) {
      const file = path.join(REPO_ROOT, "ops/grafana/dashboards", `${name}.json`);
      assert.equal(await readFile(file, "utf8"), `${JSON.stringify(d, null, 2)}\n`, `${file} is stale`);
    }
  });

  it("positive control: the linter catches a bad query, a missing unit, a hard-coded range and more", () => {
    const bad = dashboard({
      uid: "lint-control",
      title: "control",
      description: "control",
      tags: [],
      variables: [labelVariable("env", "env", "dockyard_synthetic_journey_success", "Env")],
      rows: [
        [
          { title: "unbalanced", unit: "short", queries: [{ expr: "sum(max(dockyard_queue_depth)" }] },
          { title: "no unit", unit: "", queries: [{ expr: "max(dockyard_queue_depth)" }] },
          {
            title: "hard-coded",
            unit: "ops",
            queries: [
              { expr: "sum(rate(dockyard_attempts_ended_total[5m]))" },
              { expr: "irate(dockyard_stages[1m:5s])" },
            ],
          },
          { title: "unknown", unit: "short", queries: [{ expr: 'dockyard_nope{env=~"$env",x=~"$missing"}' }] },
          { title: "fine", unit: "short", queries: [{ expr: 'max(dockyard_synthetic_journey_success{env=~"$env"})' }] },
        ],
      ],
    });
    const problems = lintDashboard(bad);
    const expected = [
      /panel 1 'unbalanced' target A: PromQL does not parse/,
      /panel 2 'no unit': no unit/,
      /panel 3 'hard-coded' target A: rate\(\) range is \[5m\], not \[\$__rate_interval\]/,
      /panel 3 'hard-coded' target B: irate\(\) takes a range selector, not a subquery/,
      /panel 4 'unknown' target A: uses \$missing, which the dashboard does not define/,
      /panel 4 'unknown' target A: metric 'dockyard_nope' is not one of the contract's metric names/,
    ];
    for (const re of expected)
      assert.ok(
        problems.some((p) => re.test(p)),
        `no problem matches ${re}:\n${problems.join("\n")}`,
      );
    assert.equal(problems.length, expected.length, problems.join("\n"));
    // The same rules pass the real thing: $__rate_interval, histogram suffixes, variables, ALERTS.
    const names = new Set(["env"]);
    assert.deepEqual(lintExpr("sum(rate(dockyard_attempts_ended_total[$__rate_interval]))", names), []);
    assert.deepEqual(lintExpr("rate(dockyard_stage_duration_seconds_bucket[${__rate_interval}])", names), []);
    assert.deepEqual(lintExpr('ALERTS{alertname=~"DockyardJourney.*",env=~"$env"}', names), []);
    assert.deepEqual(lintExpr("dockyard_queue_depth_count", names), [
      "metric 'dockyard_queue_depth_count' is not one of the contract's metric names",
    ]);
    // A datasource hard-coded on a panel or a target is caught too.
    const panel = panelsOf(bad)[4]!;
    panel.datasource = { type: "prometheus", uid: "prod" };
    assert.ok(lintDashboard(bad).some((p) => /panel 5 'fine': datasource is not \$\{datasource\}/.test(p)));
    bad.templating = { list: [] };
    assert.ok(lintDashboard(bad).some((p) => /no 'datasource' variable/.test(p)));
  });
});
