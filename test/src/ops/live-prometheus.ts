// A Prometheus (1 s scrapes and rule evaluation), an Alertmanager and a Pushgateway on loopback, in
// a temp dir, for the dashboards' live test: Prometheus scrapes the given /metrics targets and the
// Pushgateway (honor_labels, as the synthetic journeys' job and grouping labels must survive),
// loads the given rule files and sends alerts to the Alertmanager, which posts them to the
// server's receiver with its bearer token file. Stand-in until testkit's startMonitoring() is merged.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { freePort, removeTempDir, tempDir } from "@dockyard/testkit";
import { waitFor } from "../helpers/wait";

export interface LivePrometheus {
  /** http://127.0.0.1:PORT of Prometheus. */
  url: string;
  pushgatewayUrl: string;
  /** Instant query: the result vector (throws with Prometheus's error when the query is rejected). */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

function start(bin: string, args: string[], log: string): { child: ChildProcess; exited: Promise<void> } {
  const out = openSync(log, "a");
  const child = spawn(bin, args, { stdio: ["ignore", out, out] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, exited };
}

async function stopChild(p: { child: ChildProcess; exited: Promise<void> }): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGTERM");
  const killer = setTimeout(() => p.child.kill("SIGKILL"), 5_000);
  await p.exited;
  clearTimeout(killer);
}

export interface LivePrometheusOptions {
  /** host:port of each /metrics endpoint. */
  targets: string[];
  /** Absolute paths of rule files to load. */
  ruleFiles?: string[];
  /** Where Alertmanager posts (the server's /api/v1/alerts/alertmanager) with the token in tokenFile. */
  receiver?: { url: string; tokenFile: string };
}

export async function startLivePrometheus(opts: LivePrometheusOptions): Promise<LivePrometheus> {
  const dir = tempDir("dash-prom");
  const [promPort, pushPort, amPort] = [await freePort(), await freePort(), await freePort()];
  const pushgateway = `127.0.0.1:${pushPort}`;
  const alertmanager = `127.0.0.1:${amPort}`;
  const webhook = opts.receiver
    ? [
        {
          url: opts.receiver.url,
          send_resolved: true,
          http_config: { authorization: { credentials_file: opts.receiver.tokenFile } },
        },
      ]
    : [];
  const am = {
    route: {
      receiver: "dockyard",
      group_by: ["alertname", "journey", "env"],
      group_wait: "0s",
      group_interval: "1s",
      repeat_interval: "1h",
    },
    receivers: [{ name: "dockyard", ...(webhook.length > 0 ? { webhook_configs: webhook } : {}) }],
  };
  await writeFile(path.join(dir, "alertmanager.yml"), JSON.stringify(am, null, 2));
  const config = {
    global: { scrape_interval: "1s", evaluation_interval: "1s" },
    rule_files: opts.ruleFiles ?? [],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [alertmanager] }] }] },
    scrape_configs: [
      { job_name: "dockyard", static_configs: [{ targets: opts.targets }] },
      { job_name: "pushgateway", honor_labels: true, static_configs: [{ targets: [pushgateway] }] },
    ],
  };
  // JSON is YAML: no YAML library needed for a config written by code.
  await writeFile(path.join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
  const procs = [
    start("prometheus-pushgateway", [`--web.listen-address=${pushgateway}`], path.join(dir, "pushgateway.log")),
    start(
      "prometheus-alertmanager",
      [
        `--config.file=${path.join(dir, "alertmanager.yml")}`,
        `--storage.path=${path.join(dir, "am-data")}`,
        `--web.listen-address=${alertmanager}`,
        // Empty: no cluster gossip on 0.0.0.0:9094.
        "--cluster.listen-address=",
      ],
      path.join(dir, "alertmanager.log"),
    ),
    start(
      "prometheus",
      [
        `--config.file=${path.join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      path.join(dir, "prometheus.log"),
    ),
  ];
  const url = `http://127.0.0.1:${promPort}`;
  const pushgatewayUrl = `http://${pushgateway}`;
  const stop = async () => {
    await Promise.all(procs.map(stopChild));
    removeTempDir(dir);
  };
  try {
    for (const base of [url, pushgatewayUrl, `http://${alertmanager}`]) {
      await waitFor(async () => (await fetch(`${base}/-/ready`)).ok, { timeoutMs: 15_000, message: `${base} ready` });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    pushgatewayUrl,
    stop,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== "success") throw new Error(`Prometheus rejected '${expr}': ${body.error ?? res.status}`);
      return body.data?.resultType === "vector" ? (body.data.result ?? []) : [];
    },
  };
}
