// What the views remember about each stage's attempts from the status events they saw:
// which agent ran an attempt and how it ended, for boundaries and the final summary.
import type { StageStatusView } from "./status-format";
import { OUTCOMES } from "@dockyard/web";

/** States an attempt ends in (the outcome events of retried attempts, and the stage's end). */
export const ATTEMPT_END_STATES = [...OUTCOMES, "skipped"] as const;

export function isAttemptEnd(state: string): boolean {
  return (ATTEMPT_END_STATES as readonly string[]).includes(state);
}

/** One attempt as the events told it. */
export interface TrackedAttempt {
  number: number;
  agent: string;
  /** How it ended; null while it runs. */
  outcome: string | null;
  reason: string;
}

/**
 * Collects attempts per stage from StageStatus events, in seq order. Not safe for
 * events of several runs at once.
 */
export class AttemptTracker {
  private readonly stages = new Map<string, Map<number, TrackedAttempt>>();

  /** Records a status event; events of attempt 0 (pending, skipped before any attempt) are ignored. */
  record(s: StageStatusView): void {
    if (s.attempt <= 0) return;
    let byNumber = this.stages.get(s.stageName);
    if (!byNumber) {
      byNumber = new Map();
      this.stages.set(s.stageName, byNumber);
    }
    const a = byNumber.get(s.attempt) ?? { number: s.attempt, agent: "", outcome: null, reason: "" };
    const agent = s.agentName || s.agentId;
    if (agent) a.agent = agent;
    // The first end wins: a retried attempt's own outcome (lost), not the `queued` that follows.
    if (isAttemptEnd(s.state) && a.outcome === null) {
      a.outcome = s.state;
      a.reason = s.reason;
    }
    byNumber.set(s.attempt, a);
  }

  /** The attempts of `stage` seen so far, by number. */
  attempts(stage: string): TrackedAttempt[] {
    return [...(this.stages.get(stage)?.values() ?? [])].sort((x, y) => x.number - y.number);
  }

  /** Stage names with more than one attempt, in first-seen order. */
  retriedStages(): string[] {
    return [...this.stages.entries()].filter(([, m]) => m.size > 1).map(([name]) => name);
  }
}

/** "was lost", "timed out", "failed", ... for `after attempt 1 <...>`. */
export function endedPhrase(outcome: string | null): string {
  switch (outcome) {
    case "lost":
      return " was lost";
    case "timeout":
      return " timed out";
    case "canceled":
      return " was canceled";
    case null:
      return "";
    default:
      return ` ${outcome}`;
  }
}

/** `==> build: attempt 2 (after attempt 1 was lost) <==`: where a new attempt's output starts. */
export function attemptBoundary(stage: string, attempt: number, previous: TrackedAttempt | undefined): string {
  const after = attempt > 1 ? ` (after attempt ${attempt - 1}${endedPhrase(previous?.outcome ?? null)})` : "";
  return `==> ${stage}: attempt ${attempt}${after} <==`;
}

/** `attempt 1 lost on agent-a (agent lost: no heartbeat)`, for the summary. */
export function describeAttempt(a: TrackedAttempt): string {
  const where = a.agent ? ` on ${a.agent}` : "";
  const why = a.reason && a.outcome !== "succeeded" ? ` (${a.reason})` : "";
  return `attempt ${a.number} ${a.outcome ?? "running"}${where}${why}`;
}
