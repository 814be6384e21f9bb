// The dockyard_synthetic_* metrics of one journey run (after its retries), pushed to the
// Pushgateway with POST (pushAdd): a family this run does not send keeps its earlier value
// there, and last_success_timestamp is sent from the history when this run failed. Names
// and labels are fixed by the contract. The cumulative and windowed values come from
// the history the server put in the assignment (previous totals, previous 2 results).
import { Counter, Gauge, Pushgateway, Registry } from "prom-client";

export const JOB = "dockyard_synthetic";

export interface JourneyRunMetrics {
  journey: string;
  env: string;
  /** Empty when the target is not a Dockyard service (the labels are then left out). */
  service: string;
  revision: number;
  success: boolean;
  durationMs: number;
  steps: { name: string; durationMs: number }[];
  vitals: { ttfb: number | null; fcp: number | null; lcp: number | null; cls: number | null };
  /** Totals including this run. */
  checksPassed: number;
  checksFailed: number;
  /** Unix ms; 0: never succeeded. */
  lastSuccessMs: number;
  endedMs: number;
  recentFailures: number;
  recentRuns: number;
  thresholdMs: number;
  expectEveryMs: number;
}

/** The registry holding this run's series (exported for tests and for the log). */
export function journeyRegistry(m: JourneyRunMetrics): Registry {
  const registry = new Registry();
  const base: Record<string, string> = { journey: m.journey, env: m.env };
  if (m.service) Object.assign(base, { service: m.service, revision: String(m.revision) });
  const names = Object.keys(base);
  const gauge = (name: string, help: string, value: number, extra: Record<string, string> = {}, g?: Gauge) => {
    const metric =
      g ??
      new Gauge({
        name: `dockyard_synthetic_${name}`,
        help,
        labelNames: [...names, ...Object.keys(extra)],
        registers: [registry],
      });
    metric.set({ ...base, ...extra }, value);
    return metric;
  };
  gauge("journey_success", "1 when the journey's last run passed (after its retries), else 0.", m.success ? 1 : 0);
  gauge("journey_duration_seconds", "How long the journey's last run took.", m.durationMs / 1000);
  let steps: Gauge | undefined;
  for (const s of m.steps)
    steps = gauge(
      "step_duration_seconds",
      "How long each step of the last run took.",
      s.durationMs / 1000,
      { step: s.name },
      steps,
    );
  const checks = new Counter({
    name: "dockyard_synthetic_checks_total",
    help: "Journey runs recorded, by result.",
    labelNames: [...names, "result"],
    registers: [registry],
  });
  checks.inc({ ...base, result: "passed" }, m.checksPassed);
  checks.inc({ ...base, result: "failed" }, m.checksFailed);
  let vitals: Gauge | undefined;
  for (const v of ["ttfb", "fcp", "lcp"] as const) {
    const value = m.vitals[v];
    if (value !== null)
      vitals = gauge(
        "web_vital_seconds",
        "Web vitals of the journey's measured page.",
        value / 1000,
        { vital: v },
        vitals,
      );
  }
  if (m.vitals.cls !== null)
    gauge("cumulative_layout_shift", "Cumulative layout shift of the journey's measured page.", m.vitals.cls);
  if (m.lastSuccessMs > 0)
    gauge("last_success_timestamp_seconds", "When the journey last passed (unix seconds).", m.lastSuccessMs / 1000);
  gauge("last_run_timestamp_seconds", "When the journey last ran (unix seconds).", m.endedMs / 1000);
  gauge("journey_recent_failures", "Failed runs among the journey's last 3 on this env.", m.recentFailures);
  gauge("journey_recent_runs", "Runs in that window (1..3).", m.recentRuns);
  if (m.thresholdMs > 0) gauge("journey_threshold_seconds", "The journey's slow threshold.", m.thresholdMs / 1000);
  if (m.expectEveryMs > 0)
    gauge("journey_interval_seconds", "How often the journey is expected to run.", m.expectEveryMs / 1000);
  return registry;
}

/** Push the run's metrics, grouped by {journey, env}. Throws with the gateway's answer on failure. */
export async function pushJourneyMetrics(gatewayUrl: string, m: JourneyRunMetrics): Promise<void> {
  const gateway = new Pushgateway(gatewayUrl, { timeout: 10_000 }, journeyRegistry(m));
  await gateway.pushAdd({ jobName: JOB, groupings: { journey: m.journey, env: m.env } });
}
