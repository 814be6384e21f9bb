// Every line a stage executed, with when: the stage's script appends "STEP EPOCH_MS" to a
// marker file per attempt ($MARK/<stage>.<attempt>) as it executes each step. From those
// files: steps executed by more than one attempt, stages executed to their end more than
// once, and the gap between one attempt's last line and the next attempt's first (negative
// when the retry started while the earlier copy still executed).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** One executed line: the step's number and when it ran (ms since the epoch). */
export interface MarkedLine {
  step: number;
  at: number;
}

/**
 * `steps` numbered lines, one every `stepMs`, each appended with its time to the attempt's marker file (and echoed).
 */
export function timedSteps(steps: number, stepMs: number): string {
  const sleep = (stepMs / 1000).toFixed(2);
  return (
    `for i in $(seq 1 ${steps}); do echo "$i $(date +%s%3N)" >> "$MARK/$DOCKYARD_STAGE.$DOCKYARD_ATTEMPT"; ` +
    `echo "step $i"; sleep ${sleep}; done`
  );
}

/** Marker file (`stage.attempt`) -> its lines, in the order written. */
export function readMarkedLines(dir: string): Record<string, MarkedLine[]> {
  const out: Record<string, MarkedLine[]> = {};
  for (const f of readdirSync(dir)) {
    out[f] = readFileSync(path.join(dir, f), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [step, at] = l.split(" ").map(Number);
        return { step: step!, at: at! };
      });
  }
  return out;
}

export interface ExecutionReport {
  /** (stage, step) pairs executed by more than one attempt (a retry re-executes what a stopped copy had done). */
  linesTwice: number;
  /** Stages whose last step was executed by more than one attempt: executed twice in full. */
  doubleExecutions: number;
  /** Stage -> for each retry, its first line minus the previous attempt's last line, in ms. */
  gapsMs: Record<string, number[]>;
  /** Stage -> the lines each attempt executed, by attempt number. */
  counts: Record<string, Record<number, number>>;
}

/** What the marker files say about the stages that have `steps` steps each. */
export function executionReport(lines: Record<string, MarkedLine[]>, steps: number): ExecutionReport {
  const byStage = new Map<string, { attempt: number; lines: MarkedLine[] }[]>();
  for (const [file, l] of Object.entries(lines)) {
    const dot = file.lastIndexOf(".");
    const stage = file.slice(0, dot);
    if (!byStage.has(stage)) byStage.set(stage, []);
    byStage.get(stage)!.push({ attempt: Number(file.slice(dot + 1)), lines: l });
  }
  const report: ExecutionReport = { linesTwice: 0, doubleExecutions: 0, gapsMs: {}, counts: {} };
  for (const [stage, attempts] of byStage) {
    attempts.sort((a, b) => a.attempt - b.attempt);
    const runs = new Map<number, number>();
    for (const a of attempts) for (const s of new Set(a.lines.map((l) => l.step))) runs.set(s, (runs.get(s) ?? 0) + 1);
    report.linesTwice += [...runs.values()].filter((n) => n > 1).length;
    if ((runs.get(steps) ?? 0) > 1) report.doubleExecutions++;
    report.counts[stage] = Object.fromEntries(attempts.map((a) => [a.attempt, a.lines.length]));
    report.gapsMs[stage] = [];
    for (let i = 1; i < attempts.length; i++) {
      const prev = attempts[i - 1]!.lines.at(-1);
      const next = attempts[i]!.lines[0];
      if (prev && next) report.gapsMs[stage].push(next.at - prev.at);
    }
  }
  return report;
}
