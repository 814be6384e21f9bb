// Pushes one journey run's metrics to a Pushgateway the way the agent does after a ui-test stage
// (the contract's names, job dockyard_synthetic, grouping key {journey, env}), so the synthetic
// dashboard has series to read before a real ui-test run feeds it.
import { Counter, Gauge, Pushgateway, Registry } from "prom-client";

export interface JourneyRun {
  journey: string;
  env: string;
  service?: string;
  revision?: string;
  success: boolean;
  durationSeconds: number;
  steps: Record<string, number>;
  checks: { passed: number; failed: number };
  vitals: { ttfb: number; fcp: number; lcp: number };
  cls: number;
  recentFailures: number;
  recentRuns: number;
  thresholdSeconds: number;
  intervalSeconds: number;
  /** Unix seconds. */
  endedAt: number;
  lastSuccessAt: number;
}

export async function pushJourneyRun(pushgatewayUrl: string, run: JourneyRun): Promise<void> {
  const registry = new Registry();
  const base = {
    journey: run.journey,
    env: run.env,
    ...(run.service ? { service: run.service } : {}),
    ...(run.revision ? { revision: run.revision } : {}),
  };
  const names = Object.keys(base);
  const gauge = (name: string, value: number, extra: Record<string, string> = {}) => {
    const g = new Gauge({ name, help: name, labelNames: [...names, ...Object.keys(extra)], registers: [registry] });
    g.set({ ...base, ...extra }, value);
    return g;
  };
  gauge("dockyard_synthetic_journey_success", run.success ? 1 : 0);
  gauge("dockyard_synthetic_journey_duration_seconds", run.durationSeconds);
  const steps = new Gauge({
    name: "dockyard_synthetic_step_duration_seconds",
    help: "step",
    labelNames: [...names, "step"],
    registers: [registry],
  });
  for (const [step, seconds] of Object.entries(run.steps)) steps.set({ ...base, step }, seconds);
  const checks = new Counter({
    name: "dockyard_synthetic_checks_total",
    help: "checks",
    labelNames: [...names, "result"],
    registers: [registry],
  });
  checks.inc({ ...base, result: "passed" }, run.checks.passed);
  checks.inc({ ...base, result: "failed" }, run.checks.failed);
  const vitals = new Gauge({
    name: "dockyard_synthetic_web_vital_seconds",
    help: "vitals",
    labelNames: [...names, "vital"],
    registers: [registry],
  });
  for (const [vital, seconds] of Object.entries(run.vitals)) vitals.set({ ...base, vital }, seconds);
  gauge("dockyard_synthetic_cumulative_layout_shift", run.cls);
  gauge("dockyard_synthetic_last_success_timestamp_seconds", run.lastSuccessAt);
  gauge("dockyard_synthetic_last_run_timestamp_seconds", run.endedAt);
  gauge("dockyard_synthetic_journey_recent_failures", run.recentFailures);
  gauge("dockyard_synthetic_journey_recent_runs", run.recentRuns);
  gauge("dockyard_synthetic_journey_threshold_seconds", run.thresholdSeconds);
  gauge("dockyard_synthetic_journey_interval_seconds", run.intervalSeconds);
  const gw = new Pushgateway(pushgatewayUrl, { timeout: 2000 }, registry);
  const { resp } = await gw.pushAdd({
    jobName: "dockyard_synthetic",
    groupings: { journey: run.journey, env: run.env },
  });
  const status = (resp as { statusCode?: number } | undefined)?.statusCode;
  if (status !== 200) throw new Error(`Pushgateway answered ${status ?? "nothing"} to the push of ${run.journey}`);
}
