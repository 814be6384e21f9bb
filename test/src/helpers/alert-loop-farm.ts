// The release loop's farm, for the loop's e2e test and `npm run bench -- alert`: a ServiceFarm (server,
// two agents on two engines) whose agents push journey metrics to a monitoring stack of its own
// (testkit startMonitoring: Pushgateway, Prometheus with ops' rules, Alertmanager posting to the
// server's receiver with a bearer token), a webhook channel for `on: [alert]` messages, and a
// schedule running a ui-test journey against the service: every 10 s, every second while it updates.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startMonitoring, tempDir, type Monitoring } from "@dockyard/testkit";
import { startHttpReceiver, type HttpReceiver } from "./notify-receivers";
import { releasePipeline, serviceFile, ServiceFarm } from "./service-farm";

export interface AlertLoopFarm {
  sf: ServiceFarm;
  mon: Monitoring;
  /** Where the release pipeline's `on: [alert]` rule sends (the channel `loop-hook`). */
  hook: HttpReceiver;
  /** Release the service with `env` (BROKEN=1: the page answers 404, /health still passes); answers the run. */
  release(env: Record<string, string>, watchWindow: string): Promise<string>;
  stop(): Promise<void>;
}

/** A journey pipeline: GET / answers 200 with the greeting. */
export const journeyPipeline = (service: string, journey: string) =>
  [
    `name: ${journey}-journey`,
    "stages:",
    "  shop:",
    "    type: ui-test",
    `    journey: ${journey}`,
    `    service: ${service}`,
    "    steps:",
    "      - goto: /",
    "      - expect: { status: 200 }",
    "      - expect: { text: shop }",
    "",
  ].join("\n");

/** `builtAgents`: agents from dist/ (the bench). Journeys run every second while the service updates. */
export async function startAlertLoopFarm(
  service: string,
  journey: string,
  opts: { builtAgents?: boolean } = {},
): Promise<AlertLoopFarm> {
  const token = `alert-${randomBytes(16).toString("hex")}`;
  const tokenFile = path.join(tempDir("alert-loop-token"), "token");
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const hook = await startHttpReceiver();
  const sf = new ServiceFarm({
    env: {
      DOCKYARD_ALERT_TOKEN_FILE: tokenFile,
      DOCKYARD_NOTIFY_ALLOW_PRIVATE: "loopback",
      DOCKYARD_CONTINUOUS_INTERVAL: "1s",
    },
    builtAgents: opts.builtAgents,
  });
  let mon: Monitoring | undefined;
  const stop = async () => {
    await mon?.stop();
    await hook.close();
    await sf.stop();
  };
  try {
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
    const pipeline = releasePipeline(service).replace(
      "stages:",
      'notify:\n  - on: [alert]\n    channels: [loop-hook]\n    subject: "{{ alert.name }}: {{ alert.summary }}"\nstages:',
    );
    const release = (env: Record<string, string>, watchWindow: string) =>
      sf.release(
        { "services/web.yml": serviceFile({ name: service, proxyPort: sf.proxyPort, env, watchWindow }) },
        pipeline,
      );
    const first = await sf.waitStageEnd(await release({ GREETING: "shop", REV: "1" }, "0s"));
    if (first.state !== "succeeded") throw new Error(`creating ${service}: ${first.state}: ${first.reason}`);
    // Every 10 s (the shortest a schedule may be); the server makes it every second while the service updates.
    await sf.farm.client.createSchedule({
      name: journey,
      cron: "*/10 * * * * *",
      pipelineYaml: Buffer.from(journeyPipeline(service, journey)),
      source: "test:journey.yml",
    });
    return { sf, mon: mon!, hook, release, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
