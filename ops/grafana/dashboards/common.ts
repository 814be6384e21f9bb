/**
 * Building blocks for the Dockyard dashboards: typed with @grafana/schema (types only; the
 * dashboards are plain data, so the generator and the tests need nothing of Grafana at run time).
 *
 * Conventions every dashboard follows (test/src/ops/dashboards.test.ts checks them):
 * - one `datasource` variable (type datasource, query prometheus), and every panel and target
 *   names it, so a dashboard works against whichever Prometheus an operator picks;
 * - every panel sets fieldConfig.defaults.unit;
 * - rate/increase/irate ranges are `$__rate_interval` (at least 4 scrape intervals whatever the
 *   zoom, so a rate never comes out empty on a short range);
 * - label variables are multi-value with "All" = `.*`, used as `label=~"$var"`.
 */
import type { Dashboard, DataSourceRef, Panel, VariableModel } from '@grafana/schema';

export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Grafana's dashboard JSON schema version these dashboards are written for (Grafana 11/12). */
const SCHEMA_VERSION = 39;

export function datasourceVariable(): VariableModel {
  return {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    current: { selected: false, text: 'default', value: 'default' },
    hide: 0,
  };
}

/** A multi-value variable read from one label of one metric (`label_values`), "All" = `.*`. */
export function labelVariable(name: string, label: string, selector: string, title: string): VariableModel {
  return {
    name,
    label: title,
    type: 'query',
    datasource: DATASOURCE,
    query: { query: `label_values(${selector}, ${label})`, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    refresh: 2,
    multi: true,
    includeAll: true,
    allValue: '.*',
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
  };
}

export interface Query {
  expr: string;
  /** The legend, e.g. `{{kind}} {{result}}`. */
  legend?: string;
  /** An instant query (tables of "now"); range otherwise. */
  instant?: boolean;
}

export interface PanelSpec {
  title: string;
  description?: string;
  type?: 'timeseries' | 'stat' | 'table' | 'state-timeline' | 'bargauge';
  /** Grafana unit id: s, bytes, short, ops, none, bool_yes_no, dateTimeFromNow... */
  unit: string;
  queries: Query[];
  /** Width in grid columns (24 per row); height is 8. */
  w?: number;
  h?: number;
  /** Panel-specific options and field defaults (thresholds, min/max, line interpolation...). */
  options?: Record<string, unknown>;
  custom?: Record<string, unknown>;
  min?: number;
  max?: number;
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function panel(spec: PanelSpec, id: number, x: number, y: number): Panel {
  const type = spec.type ?? 'timeseries';
  return {
    id,
    type,
    title: spec.title,
    ...(spec.description ? { description: spec.description } : {}),
    datasource: DATASOURCE,
    gridPos: { x, y, w: spec.w ?? 12, h: spec.h ?? 8 },
    fieldConfig: {
      defaults: {
        unit: spec.unit,
        ...(spec.min !== undefined ? { min: spec.min } : {}),
        ...(spec.max !== undefined ? { max: spec.max } : {}),
        ...(spec.custom ? { custom: spec.custom } : {}),
      },
      overrides: [],
    },
    options: spec.options ?? {},
    targets: spec.queries.map((q, i) => ({
      refId: REF_IDS[i],
      datasource: DATASOURCE,
      expr: q.expr,
      legendFormat: q.legend ?? '__auto',
      range: !q.instant,
      instant: q.instant === true,
      ...(q.instant ? { format: 'table' } : {}),
    })),
  };
}

export interface DashboardSpec {
  /** Stable: Grafana links, provisioning and bookmarks name the dashboard by it. */
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableModel[];
  /** Rows of panels, laid out left to right; each row starts on a new grid line. */
  rows: PanelSpec[][];
}

export function dashboard(spec: DashboardSpec): Dashboard {
  const panels: Panel[] = [];
  let y = 0;
  for (const row of spec.rows) {
    let x = 0;
    let height = 0;
    for (const p of row) {
      panels.push(panel(p, panels.length + 1, x, y));
      x += p.w ?? 12;
      height = Math.max(height, p.h ?? 8);
    }
    y += height;
  }
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: spec.tags,
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    time: { from: 'now-6h', to: 'now' },
    timezone: 'utc',
    templating: { list: [datasourceVariable(), ...spec.variables] },
    annotations: { list: [] },
    links: [],
    panels,
  };
}
