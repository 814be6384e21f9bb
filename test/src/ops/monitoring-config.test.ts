// The monitoring files of ops/ as the tools themselves read them: `promtool check config` (on a
// rendered copy, whose token files exist), `promtool test rules` (every rule has a unit test),
// `amtool check-config`; and each check shown able to fail, on a broken copy, in the same test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { OPS_DIR, renderMonitoringConfig, tempDir } from "@dockyard/testkit";

const RULES = path.join(OPS_DIR, "prometheus/rules/dockyard.rules.yml");
const RULE_TESTS = path.join(OPS_DIR, "prometheus/tests/dockyard.rules.test.yml");
const ALERTMANAGER = path.join(OPS_DIR, "alertmanager/alertmanager.yml");

/** The alerts the contract names (issue 16): the server, dashboards and docs use these. */
const ALERTS = [
  "DockyardJourneyFailing",
  "DockyardJourneySlow",
  "DockyardJourneyStale",
  "DockyardQueueBacklog",
  "DockyardAgentsLost",
  "DockyardEnvironmentsLeaked",
  "DockyardDeliveriesFailing",
];

function run(bin: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`${bin}: ${r.error.message} (bash scripts/setup.sh installs it)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (file = RULES): Rule[] =>
  (parse(readFileSync(file, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

test("promtool check config passes on the production config rendered with token files, and fails without them", () => {
  const dir = tempDir("ops-config");
  const token = path.join(dir, "metrics-token");
  writeFileSync(token, "a-metrics-token-of-some-length\n");
  const rendered = renderMonitoringConfig({
    dir,
    alertmanagerAddress: "127.0.0.1:9093",
    pushgatewayAddress: "127.0.0.1:9091",
    scrapeTargets: ["127.0.0.1:7401", "10.0.0.2:7401"],
    metricsTokenFile: token,
    receiverUrl: "http://127.0.0.1:7401/api/v1/alerts/alertmanager",
    receiverTokenFile: token,
  });
  const ok = run("promtool", ["check", "config", rendered.prometheusConfig]);
  assert.equal(ok.status, 0, ok.out);
  assert.match(ok.out, /SUCCESS: 7 rules found/);
  // The rendered copy keeps the production scrape jobs: the server with its token, the gateway with honor_labels.
  const prom = parse(readFileSync(rendered.prometheusConfig, "utf8")) as {
    scrape_configs: { job_name: string; honor_labels?: boolean; authorization?: { credentials_file: string } }[];
  };
  assert.deepEqual(
    prom.scrape_configs.map((j) => [j.job_name, j.honor_labels ?? false, j.authorization?.credentials_file ?? null]),
    [
      ["dockyard", false, token],
      ["pushgateway", true, null],
    ],
  );
  // The check can fail: the production file names /etc/dockyard/metrics-token, absent here.
  const missing = run("promtool", ["check", "config", path.join(OPS_DIR, "prometheus/prometheus.yml")]);
  assert.notEqual(missing.status, 0, missing.out);
  assert.match(missing.out, /metrics-token/);
});

test("amtool check-config passes on the production and the rendered Alertmanager config, and fails on a broken one", () => {
  const prod = run("amtool", ["check-config", ALERTMANAGER]);
  assert.equal(prod.status, 0, prod.out);
  const am = parse(readFileSync(ALERTMANAGER, "utf8")) as {
    route: { receiver: string; group_by: string[] };
    receivers: { name: string; webhook_configs: Record<string, unknown>[] }[];
  };
  assert.deepEqual(am.route.group_by, ["alertname", "journey", "env", "service"]);
  const hook = am.receivers.find((r) => r.name === am.route.receiver)?.webhook_configs[0];
  assert.match(String(hook?.url), /\/api\/v1\/alerts\/alertmanager$/);
  assert.equal(hook?.send_resolved, true);
  assert.deepEqual(hook?.http_config, {
    authorization: { type: "Bearer", credentials_file: "/etc/dockyard/alert-token" },
  });

  const dir = tempDir("ops-am");
  writeFileSync(path.join(dir, "token"), "t\n");
  const rendered = renderMonitoringConfig({
    dir,
    alertmanagerAddress: "127.0.0.1:9093",
    pushgatewayAddress: "127.0.0.1:9091",
    receiverUrl: "http://127.0.0.1:1/hook",
    receiverTokenFile: path.join(dir, "token"),
  });
  const ok = run("amtool", ["check-config", rendered.alertmanagerConfig]);
  assert.equal(ok.status, 0, ok.out);
  const broken = path.join(dir, "broken.yml");
  writeFileSync(broken, readFileSync(ALERTMANAGER, "utf8").replace("receiver: dockyard", "receiver: nobody"));
  const bad = run("amtool", ["check-config", broken]);
  assert.notEqual(bad.status, 0, bad.out);
  assert.match(bad.out, /nobody/);
});

test("the rules are the seven the contract names, journey alerts keep their labels, each has severity and words", () => {
  const all = rules();
  assert.deepEqual(all.map((r) => r.alert).sort(), [...ALERTS].sort());
  for (const r of all) {
    assert.match(r.labels?.severity ?? "", /^(critical|warning)$/, `${r.alert} has a severity`);
    assert.ok((r.annotations?.summary ?? "").length > 20, `${r.alert} has a summary in words`);
    assert.ok((r.annotations?.description ?? "").length > 20, `${r.alert} has a description`);
    // Journey alerts must not aggregate journey/env/service/revision away: the server rolls back by them.
    if (r.alert.startsWith("DockyardJourney")) assert.doesNotMatch(r.expr, /\b(by|without|sum|max|min|avg)\b/, r.alert);
  }
  assert.match(rules().find((r) => r.alert === "DockyardJourneyFailing")!.expr, />= 2$/);
});

test("promtool test rules passes, with a unit test for every rule", () => {
  const ok = run("promtool", ["test", "rules", RULE_TESTS]);
  assert.equal(ok.status, 0, ok.out);
  assert.match(ok.out, /SUCCESS/);
  const tests = parse(readFileSync(RULE_TESTS, "utf8")) as {
    tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
  };
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const name of ALERTS) {
    const mine = cases.filter((c) => c.alertname === name);
    assert.ok(
      mine.some((c) => c.exp_alerts.length > 0),
      `${name}: a unit test where it fires`,
    );
    assert.ok(
      mine.some((c) => c.exp_alerts.length === 0),
      `${name}: a unit test where it stays quiet`,
    );
  }
});

test("a broken rule file makes promtool fail; a rule that alerts on one flaky run fails the unit tests", () => {
  const dir = tempDir("ops-rules");
  cpSync(path.join(OPS_DIR, "prometheus"), dir, { recursive: true });
  const rulesCopy = path.join(dir, "rules/dockyard.rules.yml");
  const testsCopy = path.join(dir, "tests/dockyard.rules.test.yml");
  const good = readFileSync(rulesCopy, "utf8");
  // Positive control: the untouched copy passes both checks.
  assert.equal(run("promtool", ["check", "rules", rulesCopy]).status, 0);
  assert.equal(run("promtool", ["test", "rules", testsCopy]).status, 0);

  writeFileSync(
    rulesCopy,
    good.replace("dockyard_synthetic_journey_recent_failures >= 2", "dockyard_synthetic_journey_recent_failures >="),
  );
  const syntax = run("promtool", ["check", "rules", rulesCopy]);
  assert.notEqual(syntax.status, 0, syntax.out);
  assert.match(syntax.out, /parse error|unexpected/i);
  assert.notEqual(run("promtool", ["test", "rules", testsCopy]).status, 0);

  writeFileSync(
    rulesCopy,
    good.replace("dockyard_synthetic_journey_recent_failures >= 2", "dockyard_synthetic_journey_recent_failures >= 1"),
  );
  assert.equal(run("promtool", ["check", "rules", rulesCopy]).status, 0, "still valid PromQL");
  const flaky = run("promtool", ["test", "rules", testsCopy]);
  assert.notEqual(flaky.status, 0, flaky.out);
  assert.match(flaky.out, /journey="login"/);
});
