// ui-test end to end: a real server and agent (real Chromium, real Pushgateway) run a pipeline
// with a passing and a failing journey against a local page, twice. The stages' results,
// reasons and outputs are the journeys'; the failing one's screenshot is a stored artifact; the Pushgateway holds the dockyard_synthetic_* series,
// and the second run's counters and failure window include the first run (the history the
// server reads from earlier ui-test stages and puts in the assignment).
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Run } from "@dockyard/proto";
import { startPushgateway } from "@dockyard/testkit";
import { startFarm, submit, waitForRun, runEvents, logsByStage, type Farm } from "../index";

const PAGE = `<!doctype html><html><body><h1>Webapp</h1><p>Welcome back</p>
<script>console.error("recommendations failed to load")</script></body></html>`;

function stage(run: Run, name: string) {
  const s = run.stages.find((x) => x.name === name);
  assert.ok(s, `no stage ${name}`);
  return s;
}

describe("ui-test stages on a farm", { timeout: 240_000 }, () => {
  let farm: Farm;
  let gateway: { url: string; stop(): Promise<void> };
  let site: http.Server;
  let siteUrl = "";

  before(async () => {
    site = http.createServer((req, res) => {
      res.writeHead(req.url === "/" ? 200 : 404, { "content-type": "text/html" });
      res.end(req.url === "/" ? PAGE : "<h1>Not found</h1>");
    });
    await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    gateway = await startPushgateway();
    farm = await startFarm({
      agents: [{ name: "browser-1", executor: "shell", env: { DOCKYARD_PUSHGATEWAY_URL: gateway.url } }],
    });
  });
  after(async () => {
    await farm?.stop();
    await gateway?.stop();
    site?.closeAllConnections();
    await new Promise((r) => site?.close(r));
  });

  const pipeline = () => `
name: synthetic
stages:
  shop:
    type: ui-test
    url: "${siteUrl}"
    env: staging
    threshold: 20s
    expect_every: 1m
    steps:
      - { name: home, goto: / }
      - { name: status, expect: { status: 200 } }
      - { name: welcome, expect: { text: Welcome back } }
      - { measure: landing }
  checkout:
    type: ui-test
    url: "${siteUrl}"
    env: staging
    retries: 0
    steps:
      - { name: home, goto: / }
      - { name: pay, click: "#pay" }
`;
  const metrics = async () => (await fetch(`${gateway.url}/metrics`)).text();
  const sample = (text: string, journey: string, name: string, extra = "") => {
    const labels = `{env="staging",instance="",job="dockyard_synthetic",journey="${journey}"${extra ? `,${extra}` : ""}}`;
    const line = text.split("\n").find((l) => l.startsWith(`dockyard_synthetic_${name}${labels} `));
    return line === undefined ? undefined : Number(line.split(" ").at(-1));
  };

  it("runs a passing and a failing journey: stage results, reasons, outputs, logs and pushed metrics", async () => {
    const runId = await submit(farm.client, pipeline());
    const run = await waitForRun(farm.client, runId, 120_000);
    assert.equal(run.state, "failed");
    const shop = stage(run, "shop");
    const checkout = stage(run, "checkout");
    assert.equal(shop.state, "succeeded", shop.reason);
    assert.equal(checkout.state, "failed");
    assert.match(checkout.reason, /^journey checkout failed at step 'pay': /);
    assert.match(checkout.reason, /#pay/);
    const ok = shop.outputs!.values;
    assert.deepEqual(
      [ok.success, ok.journey, ok.env, ok.attempts, ok.checks_passed, ok.checks_failed],
      ["true", "shop", "staging", "1", "1", "0"],
    );
    const bad = checkout.outputs!.values;
    assert.deepEqual([bad.success, bad.failed_step, bad.attempts, bad.checks_failed], ["false", "pay", "1", "1"]);
    assert.ok(Number(bad.duration_ms) > 0);
    const logs = logsByStage(await runEvents(farm.client, runId));
    assert.match(logs.get("shop")!, /journey shop: PASSED in \d+ ms \(1 run\)/);
    assert.match(logs.get("shop")!, /web vitals: TTFB \d+ ms, FCP \d+ ms, LCP \d+ ms, CLS 0\.000/);
    assert.match(logs.get("checkout")!, /console error: recommendations failed to load/);
    assert.match(logs.get("checkout")!, /metrics pushed to/);
    assert.match(logs.get("checkout")!, /screenshot of the failed page stored as artifact failure\.png/);
    // The failed journey's screenshot is an artifact of its stage; the passing one has none.
    const listed = (await farm.client.listArtifacts({ runId, stage: "" })).artifacts;
    assert.deepEqual(
      listed.map((x) => [x.stage, x.name, x.contentType]),
      [["checkout", "failure.png", "image/png"]],
    );
    const { data } = await farm.client.getArtifact({ id: listed[0]!.id });
    assert.equal(Buffer.from(data.subarray(1, 4)).toString(), "PNG");
    assert.equal(data.length, Number(listed[0]!.size));
    const m = await metrics();
    assert.equal(sample(m, "shop", "journey_success"), 1, m);
    assert.equal(sample(m, "checkout", "journey_success"), 0);
    assert.equal(sample(m, "shop", "checks_total", 'result="passed"'), 1);
    assert.equal(sample(m, "checkout", "checks_total", 'result="failed"'), 1);
    assert.ok(sample(m, "shop", "step_duration_seconds", 'step="welcome"')! > 0);
    assert.ok(sample(m, "shop", "web_vital_seconds", 'vital="lcp"')! > 0);
    assert.equal(sample(m, "shop", "journey_threshold_seconds"), 20);
    assert.equal(sample(m, "shop", "journey_interval_seconds"), 60);
    assert.equal(sample(m, "checkout", "last_success_timestamp_seconds"), undefined, "checkout never passed");
    assert.ok(sample(m, "shop", "last_success_timestamp_seconds")! > 0);
  });

  it("a second run's metrics count the first (the server's history): two failures in the window", async () => {
    const run = await waitForRun(farm.client, await submit(farm.client, pipeline()), 120_000);
    assert.equal(stage(run, "checkout").state, "failed");
    assert.equal(stage(run, "shop").outputs!.values.checks_passed, "2");
    const m = await metrics();
    assert.equal(sample(m, "shop", "checks_total", 'result="passed"'), 2);
    assert.equal(sample(m, "shop", "journey_recent_failures"), 0);
    assert.equal(sample(m, "shop", "journey_recent_runs"), 2);
    assert.equal(sample(m, "checkout", "checks_total", 'result="failed"'), 2);
    assert.equal(sample(m, "checkout", "journey_recent_failures"), 2, "what DockyardJourneyFailing fires on");
  });
});
