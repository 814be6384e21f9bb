// Renders the production monitoring files (ops/prometheus, ops/alertmanager) for a test or the
// demo (render.ts): the same rules, routes and receivers, with every interval at 1 s and the
// targets and token files given. Only intervals, addresses and file paths change, so what the
// tests prove holds for the files an operator installs.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

/** The repository's ops/ directory (the production configs). */
export const OPS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface MonitoringConfigOptions {
  /** Where the rendered files go (made if missing). */
  dir: string;
  /** host:port of the Alertmanager Prometheus sends to. */
  alertmanagerAddress: string;
  /** host:port of the Pushgateway Prometheus scrapes (honor_labels). */
  pushgatewayAddress: string;
  /** host:port of each Dockyard server whose /metrics is scraped (none: the job is left out). */
  scrapeTargets?: string[];
  /** File holding the servers' DOCKYARD_METRICS_TOKEN (unset: /metrics is scraped without one). */
  metricsTokenFile?: string;
  /** Where Alertmanager posts alerts (unset: a receiver with no webhook, alerts go nowhere). */
  receiverUrl?: string;
  /** File holding the bearer token for receiverUrl (unset: no Authorization header). */
  receiverTokenFile?: string;
}

export interface MonitoringConfig {
  prometheusConfig: string;
  alertmanagerConfig: string;
  rulesDir: string;
}

type Yaml = Record<string, unknown>;
const MAX_TARGETS = 100;
const ADDRESS = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\]):\d{1,5}$/;

function checkAddress(what: string, value: string): void {
  if (!ADDRESS.test(value)) throw new Error(`${what}: '${value}' is not host:port`);
}

function checkFile(what: string, file: string | undefined): void {
  if (file !== undefined && !existsSync(file)) throw new Error(`${what}: ${file} does not exist`);
}

/** Checks the options, naming each problem; throws on the first. */
export function checkMonitoringOptions(
  opts: Omit<MonitoringConfigOptions, 'dir' | 'alertmanagerAddress' | 'pushgatewayAddress'>,
): void {
  const targets = opts.scrapeTargets ?? [];
  if (!Array.isArray(targets)) throw new Error('scrapeTargets: must be a list of host:port');
  if (targets.length > MAX_TARGETS) throw new Error(`scrapeTargets: at most ${MAX_TARGETS}, got ${targets.length}`);
  for (const t of targets) checkAddress('scrapeTargets', t);
  if (opts.receiverUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.receiverUrl);
    } catch {
      throw new Error(`receiverUrl: '${opts.receiverUrl}' is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`receiverUrl: must be http or https, not ${url.protocol}`);
  } else if (opts.receiverTokenFile !== undefined) {
    throw new Error('receiverTokenFile: given without receiverUrl');
  }
  checkFile('receiverTokenFile', opts.receiverTokenFile);
  checkFile('metricsTokenFile', opts.metricsTokenFile);
}

function read(file: string): Yaml {
  return parse(readFileSync(file, 'utf8')) as Yaml;
}

/** Writes prometheus.yml, rules/ and alertmanager.yml into opts.dir, for 1 s intervals. */
export function renderMonitoringConfig(opts: MonitoringConfigOptions): MonitoringConfig {
  checkMonitoringOptions(opts);
  checkAddress('alertmanagerAddress', opts.alertmanagerAddress);
  checkAddress('pushgatewayAddress', opts.pushgatewayAddress);
  mkdirSync(opts.dir, { recursive: true });

  // Rules as they are: rule_files is relative to the config file, so rules/ sits beside it.
  const rulesDir = path.join(opts.dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  for (const f of readdirSync(path.join(OPS_DIR, 'prometheus/rules')))
    copyFileSync(path.join(OPS_DIR, 'prometheus/rules', f), path.join(rulesDir, f));

  const prom = read(path.join(OPS_DIR, 'prometheus/prometheus.yml'));
  // A scrape may not take longer than its interval: 15 s production default timeouts go too.
  prom.global = { ...(prom.global as Yaml), scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  const alerting = prom.alerting as { alertmanagers: { static_configs: { targets: string[] }[] }[] };
  alerting.alertmanagers = [{ static_configs: [{ targets: [opts.alertmanagerAddress] }] }];
  const jobs = prom.scrape_configs as Yaml[];
  const dockyard = job(jobs, 'dockyard');
  const pushgateway = job(jobs, 'pushgateway');
  dockyard.static_configs = [{ targets: opts.scrapeTargets ?? [] }];
  if (opts.metricsTokenFile) dockyard.authorization = { type: 'Bearer', credentials_file: opts.metricsTokenFile };
  else delete dockyard.authorization;
  pushgateway.static_configs = [{ targets: [opts.pushgatewayAddress] }];
  prom.scrape_configs = (opts.scrapeTargets ?? []).length > 0 ? jobs : jobs.filter((j) => j !== dockyard);
  const prometheusConfig = path.join(opts.dir, 'prometheus.yml');
  writeFileSync(prometheusConfig, stringify(prom));

  const am = read(path.join(OPS_DIR, 'alertmanager/alertmanager.yml'));
  // Notify as soon as an alert fires and on each change; repeats stay at the production pace.
  am.route = { ...(am.route as Yaml), group_wait: '0s', group_interval: '1s' };
  const receivers = am.receivers as { name: string; webhook_configs?: Yaml[] }[];
  const receiver = receivers.find((r) => r.name === (am.route as Yaml).receiver);
  if (!receiver?.webhook_configs?.[0])
    throw new Error("ops/alertmanager/alertmanager.yml: its route's receiver has no webhook");
  const hook = receiver.webhook_configs[0];
  if (opts.receiverUrl === undefined) {
    delete receiver.webhook_configs;
  } else {
    hook.url = opts.receiverUrl;
    if (opts.receiverTokenFile)
      hook.http_config = { authorization: { type: 'Bearer', credentials_file: opts.receiverTokenFile } };
    else delete hook.http_config;
  }
  const alertmanagerConfig = path.join(opts.dir, 'alertmanager.yml');
  writeFileSync(alertmanagerConfig, stringify(am));
  return { prometheusConfig, alertmanagerConfig, rulesDir };
}

function job(jobs: Yaml[], name: string): Yaml {
  const found = jobs.find((j) => j.job_name === name);
  if (!found) throw new Error(`ops/prometheus/prometheus.yml: no scrape job '${name}'`);
  return found;
}
