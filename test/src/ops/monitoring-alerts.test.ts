// The alert loop on real daemons (testkit startMonitoring: Pushgateway, Prometheus, Alertmanager
// with the ops/ configs at 1 s intervals): journey results pushed the way the agent pushes them
// reach the receiver as Alertmanager webhooks with the bearer token, when 2 of 3 runs failed,
// and never for one flaky run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Gauge, Pushgateway, Registry } from "prom-client";
import { freePort, startMonitoring, tempDir } from "@dockyard/testkit";
import { waitFor } from "../helpers/wait";
import { startWebhookReceiver, type WebhookAlert } from "./webhook-receiver";

const JOB = "dockyard_synthetic";

interface Journey {
  journey: string;
  env: string;
  service: string;
  revision: string;
}

/** Pushes one journey's result as the agent does: job dockyard_synthetic, grouped by {journey, env}. */
async function pushJourney(gatewayUrl: string, j: Journey, recentFailures: number): Promise<void> {
  const registry = new Registry();
  const labelNames = ["journey", "env", "service", "revision"] as const;
  const gauge = (name: string, value: number) =>
    new Gauge({ name, help: name, labelNames, registers: [registry] }).set({ ...j }, value);
  gauge("dockyard_synthetic_journey_recent_failures", recentFailures);
  gauge("dockyard_synthetic_journey_recent_runs", 3);
  gauge("dockyard_synthetic_journey_success", recentFailures > 0 ? 0 : 1);
  gauge("dockyard_synthetic_last_run_timestamp_seconds", Date.now() / 1000);
  const gw = new Pushgateway(gatewayUrl, { timeout: 2000 }, registry);
  const { resp } = await gw.pushAdd({ jobName: JOB, groupings: { journey: j.journey, env: j.env } });
  assert.equal((resp as { statusCode?: number }).statusCode, 200);
}

interface RuleGroups {
  data: { groups: { name: string; lastEvaluation: string }[] };
}

/** When Prometheus last evaluated the journey rules (ms since epoch). */
async function lastEvaluation(prometheusUrl: string): Promise<number> {
  const res = await fetch(`${prometheusUrl}/api/v1/rules`);
  const body = (await res.json()) as RuleGroups;
  const group = body.data.groups.find((g) => g.name === "dockyard-synthetic");
  assert.ok(group, "the dockyard-synthetic rule group is loaded");
  return Date.parse(group.lastEvaluation);
}

async function query(prometheusUrl: string, promql: string): Promise<{ metric: Record<string, string> }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  return ((await res.json()) as { data: { result: { metric: Record<string, string> }[] } }).data.result;
}

test(
  "one flaky run never alerts while 2 of 3 failed runs reach the receiver with the journey's labels and the bearer token; the fix resolves it",
  { timeout: 120_000 },
  async (t) => {
    const dir = tempDir("ops-alerts");
    const token = randomBytes(16).toString("hex");
    const tokenFile = path.join(dir, "alert-token");
    writeFileSync(tokenFile, `${token}\n`);
    const receiver = await startWebhookReceiver(token);
    const mon = await startMonitoring({ receiverUrl: receiver.url, receiverTokenFile: tokenFile }).catch(
      async (err: unknown) => {
        await receiver.close();
        throw err;
      },
    );
    // Alertmanager first, so it never posts to a receiver already closed.
    t.after(async () => {
      await mon.stop();
      await receiver.close();
    });

    const flaky: Journey = { journey: "login", env: "staging", service: "web", revision: "7" };
    const broken: Journey = { journey: "checkout", env: "staging", service: "web", revision: "8" };
    // Pushed together: the control's alert proves the flaky one had every chance to fire.
    await Promise.all([pushJourney(mon.pushgatewayUrl, flaky, 1), pushJourney(mon.pushgatewayUrl, broken, 2)]);

    const isFor = (j: Journey) => (a: WebhookAlert) =>
      a.labels.alertname === "DockyardJourneyFailing" && a.labels.journey === j.journey;
    const firing = await waitFor(() => receiver.alerts().find((a) => isFor(broken)(a) && a.status === "firing"), {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: "the checkout journey's alert at the receiver",
    });
    assert.deepEqual(
      {
        journey: firing.labels.journey,
        env: firing.labels.env,
        service: firing.labels.service,
        revision: firing.labels.revision,
        severity: firing.labels.severity,
        job: firing.labels.job,
      },
      { journey: "checkout", env: "staging", service: "web", revision: "8", severity: "critical", job: JOB },
    );
    assert.equal(firing.annotations.summary, "journey checkout on staging failed in 2 of its last 3 runs");
    assert.ok(firing.fingerprint && firing.startsAt, "fingerprint and startsAt, which the server dedupes by");
    assert.ok(receiver.posts.length > 0);
    for (const p of receiver.posts) {
      assert.equal(p.authorization, `Bearer ${token}`, "every post carries the token from the credentials file");
      assert.equal(p.body.version, "4");
    }

    // Silence is meaningful only once Prometheus has the flaky value and has evaluated it a few
    // more times after the control fired (1 s evaluation interval).
    assert.equal(
      (await query(mon.prometheusUrl, `dockyard_synthetic_journey_recent_failures{journey="login"} == 1`)).length,
      1,
    );
    const after = await lastEvaluation(mon.prometheusUrl);
    await waitFor(async () => (await lastEvaluation(mon.prometheusUrl)) >= after + 3_000, {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: "three more rule evaluations",
    });
    assert.deepEqual(
      await query(mon.prometheusUrl, `ALERTS{journey="login"}`),
      [],
      "no pending or firing alert for login",
    );
    assert.deepEqual(receiver.alerts().filter(isFor(flaky)), [], "one flaky run (1 of 3) never reached the receiver");

    // The next good run of checkout (1 of 3 now) sends the resolved notice (send_resolved).
    await pushJourney(mon.pushgatewayUrl, broken, 1);
    const resolved = await waitFor(() => receiver.alerts().find((a) => isFor(broken)(a) && a.status === "resolved"), {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: "the checkout journey's resolved notice",
    });
    assert.equal(resolved.fingerprint, firing.fingerprint);
    assert.equal(resolved.startsAt, firing.startsAt);
    assert.deepEqual(receiver.alerts().filter(isFor(flaky)), []);
  },
);

test(
  "Prometheus scrapes a server's /metrics with the metrics token from its credentials file",
  { timeout: 60_000 },
  async (t) => {
    const dir = tempDir("ops-scrape");
    const token = randomBytes(16).toString("hex");
    const tokenFile = path.join(dir, "metrics-token");
    writeFileSync(tokenFile, `${token}\n`);
    // A stand-in for the server's /metrics (web/src/app.ts): 401 without the token, as there.
    const registry = new Registry();
    new Gauge({ name: "dockyard_queue_depth", help: "queued", registers: [registry] }).set(7);
    const auths: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      auths.push(req.headers.authorization);
      if (req.headers.authorization !== `Bearer ${token}`) return void res.writeHead(401).end();
      void registry.metrics().then((body) => res.writeHead(200, { "content-type": registry.contentType }).end(body));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const mon = await startMonitoring({ scrapeTargets: [`127.0.0.1:${port}`], metricsTokenFile: tokenFile });
    t.after(async () => {
      await mon.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const series = await waitFor(
      async () => {
        const r = await query(mon.prometheusUrl, `dockyard_queue_depth{job="dockyard"} == 7`);
        return r.length === 1 ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, message: "the server's queue depth in Prometheus" },
    );
    assert.equal(series[0]!.metric.instance, `127.0.0.1:${port}`);
    assert.ok(
      auths.length > 0 && auths.every((a) => a === `Bearer ${token}`),
      `scrapes carried the token: ${auths.join(", ")}`,
    );
  },
);

test("startMonitoring fails with a message naming the problem for bad options, and stop() leaves nothing", async () => {
  await assert.rejects(
    startMonitoring({ scrapeTargets: ["not a target"] }),
    /scrapeTargets: 'not a target' is not host:port/,
  );
  await assert.rejects(startMonitoring({ receiverUrl: "ftp://x/y" }), /receiverUrl: must be http or https/);
  await assert.rejects(
    startMonitoring({ receiverUrl: "http://127.0.0.1:1/", receiverTokenFile: "/nonexistent/token" }),
    /receiverTokenFile: \/nonexistent\/token does not exist/,
  );
  // Positive control: good options start all three; stop() ends them and removes the dir.
  const mon = await startMonitoring({ scrapeTargets: ["127.0.0.1:1"] });
  const ready = await Promise.all(
    [mon.prometheusUrl, mon.alertmanagerUrl, mon.pushgatewayUrl].map(async (u) => (await fetch(`${u}/-/ready`)).status),
  );
  assert.deepEqual(ready, [200, 200, 200]);
  await mon.stop();
  const { existsSync } = await import("node:fs");
  assert.equal(existsSync(mon.dir), false);
  await assert.rejects(fetch(`${mon.prometheusUrl}/-/ready`), "prometheus is gone");
});
