// A linter for the Grafana dashboards (Grafana cannot run here, so the dashboards are checked the
// way the monitoring mixins check theirs): every target's PromQL parses with Prometheus's own
// grammar (@prometheus-io/lezer-promql), every panel and target uses the `datasource` variable,
// every panel has a unit, rate/increase/irate ranges are `$__rate_interval`, only the contract's
// metric names are used, and every `$variable` is one the dashboard defines.
import { parser } from "@prometheus-io/lezer-promql";
import type { Dashboard, Panel, RowPanel } from "@dockyard/ops";

/** The metric names of the issue 16 contract (/work/notes/issue16-contract.md), plus Prometheus's ALERTS. */
export const CONTRACT_METRICS = new Set([
  "dockyard_synthetic_journey_success",
  "dockyard_synthetic_journey_duration_seconds",
  "dockyard_synthetic_step_duration_seconds",
  "dockyard_synthetic_checks_total",
  "dockyard_synthetic_web_vital_seconds",
  "dockyard_synthetic_cumulative_layout_shift",
  "dockyard_synthetic_last_success_timestamp_seconds",
  "dockyard_synthetic_last_run_timestamp_seconds",
  "dockyard_synthetic_journey_recent_failures",
  "dockyard_synthetic_journey_recent_runs",
  "dockyard_synthetic_journey_threshold_seconds",
  "dockyard_synthetic_journey_interval_seconds",
  "dockyard_queue_depth",
  "dockyard_stages",
  "dockyard_agents",
  "dockyard_agent_resources",
  "dockyard_workspaces",
  "dockyard_build_cache_bytes",
  "dockyard_dispatch_latency_seconds",
  "dockyard_attempts_ended_total",
  "dockyard_stage_duration_seconds",
  "dockyard_approvals_waiting",
  "dockyard_outbox_depth",
  "dockyard_notify_failed_deliveries_total",
  "dockyard_service_rollbacks_total",
  "dockyard_service_revision",
  "dockyard_alerts_received_total",
  "ALERTS",
]);
const HISTOGRAMS = new Set(["dockyard_dispatch_latency_seconds", "dockyard_stage_duration_seconds"]);

const RATE_FUNCTIONS = new Set(["rate", "increase", "irate"]);
/** What `$__rate_interval` becomes for parsing: a duration no one writes by hand, so a range equal to it was the variable. */
const RATE_SENTINEL = "4242s";
/** Grafana's interval variables, which may only stand where a duration does (never in a rate: see RATE_SENTINEL). */
const OTHER_INTERVALS = ["$__interval", "$__range", "${__interval}", "${__range}"];
const BUILTINS = new Set(["__rate_interval", "__interval", "__range", "__interval_ms", "__range_s", "__range_ms"]);

export interface Target {
  refId?: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

export function panelsOf(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels ?? []) {
    if (p.type === "row") out.push(...(p as RowPanel).panels);
    else out.push(p as Panel);
  }
  return out;
}

export function targetsOf(p: Panel): Target[] {
  return (p.targets ?? []) as unknown as Target[];
}

/** PromQL with Grafana's interval variables replaced by durations the parser accepts. */
function forParsing(expr: string): string {
  let out = expr.replaceAll("${__rate_interval}", RATE_SENTINEL).replaceAll("$__rate_interval", RATE_SENTINEL);
  for (const v of OTHER_INTERVALS) out = out.replaceAll(v, "1m");
  return out;
}

/** Problems with one PromQL expression (parse errors, hard-coded rate ranges, unknown metrics). */
export function lintExpr(expr: string, variables: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (expr.trim() === "") return ["empty query"];
  if (expr.length > 4000) return [`query is ${expr.length} characters (at most 4000)`];
  for (const m of expr.matchAll(/\$\{?(\w+)\}?/g)) {
    const name = m[1] ?? "";
    if (!BUILTINS.has(name) && !variables.has(name))
      problems.push(`uses $${name}, which the dashboard does not define`);
  }
  const text = forParsing(expr);
  const tree = parser.parse(text);
  const cursor = tree.cursor();
  do {
    const node = cursor.node;
    if (node.type.isError) {
      problems.push(
        `PromQL does not parse at ${node.from}: '${text.slice(Math.max(0, node.from - 20), node.from + 20)}'`,
      );
    } else if (node.name === "FunctionCall") {
      const fn = node.getChild("FunctionIdentifier");
      const name = fn ? text.slice(fn.from, fn.to) : "";
      if (!RATE_FUNCTIONS.has(name)) continue;
      const body = node.getChild("FunctionCallBody");
      const arg = body?.getChild("MatrixSelector") ?? body?.getChild("SubqueryExpr");
      const range = arg?.getChild("DurationExpr");
      const rangeText = range ? text.slice(range.from, range.to) : "";
      if (!arg || arg.name !== "MatrixSelector") problems.push(`${name}() takes a range selector, not a subquery`);
      else if (rangeText !== RATE_SENTINEL) problems.push(`${name}() range is [${rangeText}], not [$__rate_interval]`);
    } else if (node.name === "VectorSelector") {
      const id = node.getChild("Identifier");
      const metric = id ? text.slice(id.from, id.to) : "";
      const base = metric.replace(/_(bucket|sum|count)$/, "");
      const known = CONTRACT_METRICS.has(metric) || (HISTOGRAMS.has(base) && base !== metric);
      if (!known) problems.push(`metric '${metric}' is not one of the contract's metric names`);
    }
  } while (cursor.next());
  return problems;
}

/** Every problem with a dashboard, each naming the panel (empty: the dashboard passes). */
export function lintDashboard(d: Dashboard): string[] {
  const problems: string[] = [];
  const where = (p: Panel) => `${d.uid ?? "?"} panel ${p.id ?? "?"} '${p.title ?? ""}'`;
  const vars = d.templating?.list ?? [];
  const names = new Set(vars.map((v) => v.name));
  const ds = vars.find((v) => v.name === "datasource");
  if (!ds || ds.type !== "datasource" || ds.query !== "prometheus")
    problems.push(`${d.uid ?? "?"}: no 'datasource' variable of type datasource with query prometheus`);
  if (!d.uid || !/^[a-z0-9-]{1,40}$/.test(d.uid)) problems.push(`dashboard uid '${d.uid ?? ""}' is not a short slug`);
  const ids = new Set<number>();
  for (const p of panelsOf(d)) {
    if (p.id === undefined || ids.has(p.id)) problems.push(`${where(p)}: panel id missing or repeated`);
    else ids.add(p.id);
    if (p.datasource?.uid !== "${datasource}") problems.push(`${where(p)}: datasource is not \${datasource}`);
    if (!p.fieldConfig?.defaults.unit) problems.push(`${where(p)}: no unit (fieldConfig.defaults.unit)`);
    const targets = targetsOf(p);
    if (targets.length === 0) problems.push(`${where(p)}: no targets`);
    for (const t of targets) {
      if (t.datasource?.uid !== "${datasource}")
        problems.push(`${where(p)} target ${t.refId ?? "?"}: datasource is not \${datasource}`);
      for (const problem of lintExpr(t.expr ?? "", names))
        problems.push(`${where(p)} target ${t.refId ?? "?"}: ${problem}`);
    }
  }
  return problems;
}
