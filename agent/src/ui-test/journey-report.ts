// How a journey's result reads: the summary table in the stage's log, its outputs (string
// values the server keeps and reads back as the journey's history), the failure reason, and
// the history window and totals the metrics need.
import type { JourneyResult, Vitals } from "./protocol";

export interface History {
  /** Previous results, newest first (at most 2). */
  recent: boolean[];
  checksPassed: number;
  checksFailed: number;
  lastSuccessMs: number;
}

export interface JourneyOutcome {
  result: JourneyResult;
  /** Journey runs it took (1 + the retries used). */
  attempts: number;
  endedMs: number;
}

const ms = (n: number) => `${Math.round(n)} ms`;
const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));

/** The journey's vitals: its last measurement's (every vital null when it has none). */
export function vitalsOf(r: JourneyResult): Vitals {
  return r.measurements.at(-1)?.vitals ?? { ttfb: null, fcp: null, lcp: null, cls: null };
}

export function summaryTable(journey: string, o: JourneyOutcome): string[] {
  const r = o.result;
  const width = Math.max(4, ...r.steps.map((s) => s.name.length));
  const lines = [
    `journey ${journey}: ${r.ok ? "PASSED" : "FAILED"} in ${ms(r.durationMs)} (${o.attempts} run${o.attempts > 1 ? "s" : ""})`,
    `  ${pad("step", width)}  ${pad("action", 8)}  ${pad("result", 6)}  duration`,
  ];
  for (const s of r.steps)
    lines.push(
      `  ${pad(s.name, width)}  ${pad(s.action, 8)}  ${pad(s.ok ? "ok" : "FAILED", 6)}  ${ms(s.durationMs)}${s.error ? `  ${s.error}` : ""}`,
    );
  const v = vitalsOf(r);
  const vital = (x: number | null) => (x === null ? "-" : ms(x));
  lines.push(
    `  web vitals: TTFB ${vital(v.ttfb)}, FCP ${vital(v.fcp)}, LCP ${vital(v.lcp)}, CLS ${v.cls === null ? "-" : v.cls.toFixed(3)}`,
  );
  for (const m of r.measurements) {
    const n = m.navigation;
    lines.push(
      `  measure ${m.name} (${m.url}): response ${ms(n.responseStart ?? 0)}, DOMContentLoaded ${ms(n.domContentLoadedEventEnd ?? 0)}, load ${ms(n.loadEventEnd ?? 0)}`,
    );
  }
  if (!r.ok) {
    lines.push(`  failed step: ${r.failedStep ?? "-"}: ${r.error ?? "-"}`);
    for (const e of r.consoleErrors) lines.push(`  console error: ${e}`);
  }
  return lines;
}

/** The failure reason of the stage (names the step and its error). */
export function failureReason(journey: string, r: JourneyResult): string {
  return `journey ${journey} failed at step '${r.failedStep ?? "?"}': ${r.error ?? "unknown error"}`.slice(0, 480);
}

/** The window and totals including this run. */
export function withThisRun(h: History, ok: boolean, endedMs: number) {
  const window = [ok, ...h.recent.slice(0, 2)];
  return {
    recentFailures: window.filter((x) => !x).length,
    recentRuns: window.length,
    checksPassed: h.checksPassed + (ok ? 1 : 0),
    checksFailed: h.checksFailed + (ok ? 0 : 1),
    lastSuccessMs: ok ? endedMs : h.lastSuccessMs,
  };
}

export function outputsOf(
  t: { journey: string; env: string; baseUrl: string },
  o: JourneyOutcome,
  totals: ReturnType<typeof withThisRun>,
): Record<string, string> {
  const r = o.result;
  return {
    success: String(r.ok),
    duration_ms: String(Math.round(r.durationMs)),
    failed_step: r.ok ? "" : (r.failedStep ?? ""),
    error: r.ok ? "" : (r.error ?? ""),
    attempts: String(o.attempts),
    journey: t.journey,
    env: t.env,
    url: t.baseUrl,
    finished_at: String(o.endedMs),
    last_success_at: String(totals.lastSuccessMs),
    checks_passed: String(totals.checksPassed),
    checks_failed: String(totals.checksFailed),
  };
}
