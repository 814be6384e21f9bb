/**
 * Writes the Dockyard Grafana dashboards (dashboards/*.ts, typed with @grafana/schema) as the JSON
 * Grafana loads, plus the provisioning files that point Grafana at them:
 *
 *   node --import tsx ops/grafana/build-dashboards.ts [OUT_DIR]
 *
 * OUT_DIR defaults to ops/grafana; it gets dashboards/<name>.json and
 * provisioning/{datasources,dashboards}/dockyard.yml. The output is committed, and
 * scripts/gen-check.sh rebuilds it into a temp dir and fails when the committed copy differs.
 *
 * Install: copy provisioning/ into Grafana's provisioning directory (/etc/grafana/provisioning)
 * and dashboards/*.json to /var/lib/grafana/dashboards/dockyard (the path the dashboards
 * provider reads); set PROMETHEUS_URL in Grafana's environment for the datasource.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dashboards } from './dashboards/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));

// Grafana expands $VAR / ${VAR} in provisioning files from its own environment.
const DATASOURCES = `# Grafana datasource provisioning (written by ops/grafana/build-dashboards.ts; do not edit).
# The dashboards pick their Prometheus through their \`datasource\` variable; this one is the default.
apiVersion: 1
datasources:
  - name: Prometheus
    uid: dockyard-prometheus
    type: prometheus
    access: proxy
    url: \${PROMETHEUS_URL}
    isDefault: true
    editable: false
    jsonData:
      # The Dockyard scrape job runs every 15 s (ops/prometheus/dockyard-scrape.yml); Grafana
      # sizes $__rate_interval from it (4 x scrape interval at least).
      timeInterval: 15s
`;

const DASHBOARDS = `# Grafana dashboard provisioning (written by ops/grafana/build-dashboards.ts; do not edit).
apiVersion: 1
providers:
  - name: dockyard
    folder: Dockyard
    type: file
    disableDeletion: true
    # The JSON files are generated from code: edits in the UI are not kept.
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /var/lib/grafana/dashboards/dockyard
`;

/** Every file the generator writes, path relative to the output dir → contents. */
export function renderFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, dashboard] of Object.entries(dashboards)) {
    files.set(join('dashboards', `${name}.json`), `${JSON.stringify(dashboard, null, 2)}\n`);
  }
  files.set(join('provisioning', 'datasources', 'dockyard.yml'), DATASOURCES);
  files.set(join('provisioning', 'dashboards', 'dockyard.yml'), DASHBOARDS);
  return files;
}

export async function writeFiles(outDir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [rel, text] of renderFiles()) {
    const file = join(outDir, rel);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
    written.push(file);
  }
  return written;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = resolve(process.argv[2] ?? HERE);
  for (const file of await writeFiles(outDir)) console.log(`wrote ${file}`);
}
