// Prometheus, Alertmanager and a Pushgateway of a test's own, running the repository's ops/
// configs with 1 s intervals (ops/monitoring/render-config.ts), on free loopback ports. Each test gets a
// fresh set (about 1 s to start), so no test sees another's alerts or pushes.
import path from "node:path";
import { startDaemon, type Daemon } from "./daemon";
import { checkMonitoringOptions, renderMonitoringConfig } from "@dockyard/ops/monitoring";
import { startPushgateway, type Pushgateway } from "./pushgateway";
import { removeTempDir, tempDir } from "./temp-dir";

export interface MonitoringOptions {
  /** host:port of each Dockyard server whose /metrics Prometheus scrapes (default none). */
  scrapeTargets?: string[];
  /** File holding the servers' DOCKYARD_METRICS_TOKEN, when their /metrics wants one. */
  metricsTokenFile?: string;
  /** Where Alertmanager posts (the server's /api/v1/alerts/alertmanager); unset: nowhere. */
  receiverUrl?: string;
  /** File holding the bearer token Alertmanager sends to receiverUrl. */
  receiverTokenFile?: string;
  /** Configs, data and logs (default: a fresh temp dir, removed by stop()). */
  dir?: string;
}

export interface Monitoring {
  prometheusUrl: string;
  alertmanagerUrl: string;
  pushgatewayUrl: string;
  dir: string;
  /** The rendered configs, for promtool and amtool. */
  prometheusConfig: string;
  alertmanagerConfig: string;
  /** Stops all three (and removes dir when startMonitoring made it). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a Pushgateway, then Alertmanager, then Prometheus, each waited for until `/-/ready`
 * answers. Throws, with the end of the failing daemon's log, when a binary is missing or a
 * daemon does not get ready; what it had started is stopped first. Prometheus runs with
 * --web.enable-lifecycle, so a test may POST /-/reload after editing the rendered config.
 */
export async function startMonitoring(opts: MonitoringOptions = {}): Promise<Monitoring> {
  checkMonitoringOptions(opts);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? tempDir("monitoring");
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    // Prometheus first, so it does not log failed sends to an Alertmanager already gone.
    for (const d of started.splice(0).reverse()) await d.stop();
  };
  try {
    const gateway: Pushgateway = await startPushgateway({ dir });
    started.push(gateway);
    // Alertmanager's config does not name Prometheus, so it goes first and Prometheus gets its port.
    const rendered = (amPort: number) =>
      renderMonitoringConfig({
        ...opts,
        dir,
        alertmanagerAddress: `127.0.0.1:${amPort}`,
        pushgatewayAddress: `127.0.0.1:${gateway.port}`,
      });
    let config = rendered(9093);
    const alertmanager: Daemon = await startDaemon({
      name: "alertmanager",
      bin: "prometheus-alertmanager",
      dir,
      args: (port) => [
        `--config.file=${config.alertmanagerConfig}`,
        `--storage.path=${path.join(dir, "alertmanager-data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // Empty: no cluster gossip on 0.0.0.0:9094, which two tests at once would fight over.
        "--cluster.listen-address=",
        "--log.level=warn",
      ],
    });
    started.push(alertmanager);
    config = rendered(alertmanager.port);
    const prometheus: Daemon = await startDaemon({
      name: "prometheus",
      bin: "prometheus",
      dir,
      args: (port) => [
        `--config.file=${config.prometheusConfig}`,
        `--storage.tsdb.path=${path.join(dir, "prometheus-data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-lifecycle",
        "--log.level=warn",
      ],
    });
    started.push(prometheus);
    let stopped = false;
    return {
      prometheusUrl: prometheus.url,
      alertmanagerUrl: alertmanager.url,
      pushgatewayUrl: gateway.url,
      dir,
      prometheusConfig: config.prometheusConfig,
      alertmanagerConfig: config.alertmanagerConfig,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopAll();
        if (ownDir) removeTempDir(dir);
      },
    };
  } catch (err) {
    await stopAll();
    if (ownDir) removeTempDir(dir);
    throw err;
  }
}
