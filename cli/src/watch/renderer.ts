// Turns RunEvents into the text a person reads: the live view (status lines,
// prefixed log lines, summary), the `logs` view, or raw log bytes.
import type { RunEvent } from "@dockyard/proto";
import { isTerminalState } from "../errors";
import { streamName } from "../json";
import { clockTime } from "../format/time";
import { LineSplitter, type SplitLine, type StreamName } from "./line-splitter";
import { AttemptTracker, attemptBoundary, describeAttempt, isAttemptEnd } from "./attempt-tracker";
import {
  formatApproval,
  formatRunStatus,
  formatStageStatus,
  formatSummary,
  plainColors,
  stageColor,
} from "./status-format";
import type { Colors } from "./status-format";

/**
 * `live`: status lines, `build | line` logs (`build ! line` for stderr), summary at the end.
 * `logs`: log lines only, as `[build] line` (`[build]! line` for stderr), and a
 *   `==> build: attempt 2 (after attempt 1 was lost) <==` line where a retry's output starts.
 * `raw`: log bytes only, unchanged (one stage's output), with the same attempt boundaries.
 */
export type RenderMode = "live" | "logs" | "raw";

/** What a caller passes to RunRenderer. */
export interface RendererOptions {
  /** Receives output; text always ends with "\n", bytes are passed through (raw mode). */
  write(chunk: string | Uint8Array): void;
  mode?: RenderMode;
  colors?: Colors;
  /** Formats event times; local HH:MM:SS by default. */
  formatTime?: (ms: number) => string;
  /** Print `==> stage: attempt N <==` boundaries in the logs and raw views (default true; off for one attempt). */
  boundaries?: boolean;
}

/** The separator after the stage name in the live view, per stream. */
const LIVE_MARK: Record<StreamName, string> = { stdout: "|", stderr: "!", system: "*" };
/** What follows `[stage]` in the logs view, per stream. */
const LOGS_MARK: Record<StreamName, string> = { stdout: "", stderr: "!", system: "*" };

/**
 * Renders the events of one run, in seq order, as they arrive. Not safe for
 * events of several runs at once. Call `end()` when the stream is over to flush
 * partial lines that never got their newline. Holds no timers or I/O.
 */
export class RunRenderer {
  private readonly splitter = new LineSplitter();
  private readonly names = new Map<string, string>();
  private readonly tracker = new AttemptTracker();
  /** `stage#attempt` whose boundary was printed (or that needs none: attempt 1). */
  private readonly started = new Set<string>();
  private readonly mode: RenderMode;
  private readonly c: Colors;
  private readonly time: (ms: number) => string;
  private readonly boundaries: boolean;
  /** Raw mode: whether the last byte written ended a line (a boundary must start on its own line). */
  private atLineStart = true;
  private firstAtMs: number | null = null;
  /** Terminal state of the run once its final RunStatus event was seen. */
  finalState: string | null = null;
  /** Run time from the first event to the terminal one, once known. */
  durationMs: number | null = null;

  constructor(private readonly options: RendererOptions) {
    this.mode = options.mode ?? "live";
    this.c = options.colors ?? plainColors;
    this.time = options.formatTime ?? clockTime;
    this.boundaries = options.boundaries ?? true;
  }

  /** Renders one event. */
  handle(ev: RunEvent): void {
    const atMs = Number(ev.atMs);
    this.firstAtMs ??= atMs;
    const body = ev.body;
    if (body.case === "log") {
      const log = body.value;
      this.attemptStarts(log.stageName, log.attempt);
      if (this.mode === "raw") {
        this.raw(log.data);
        return;
      }
      const key = `${log.stageName}#${log.attempt}`;
      this.names.set(key, log.stageName);
      this.writeLines(log.stageName, this.splitter.push(key, log.data, logStream(log.stream)));
    } else if (body.case === "stage") {
      const s = body.value;
      this.tracker.record(s);
      if (s.state === "running" || s.state === "assigned") this.flushStage(s.stageName, s.attempt);
      else if (isAttemptEnd(s.state)) this.flushStage(s.stageName, null);
      if (s.state === "running") this.attemptStarts(s.stageName, s.attempt);
      if (this.mode === "live") this.line(formatStageStatus(this.time(atMs), s, this.c));
    } else if (body.case === "approval") {
      const text = this.mode === "live" ? formatApproval(this.time(atMs), body.value, this.c) : null;
      if (text) this.line(text);
    } else if (body.case === "run") {
      const state = body.value.state;
      if (isTerminalState(state)) {
        this.end();
        this.finalState = state;
        this.durationMs = Math.max(0, atMs - this.firstAtMs);
        if (this.mode === "live") this.writeSummary(ev.runId, state, this.durationMs);
      } else if (this.mode === "live") {
        this.line(formatRunStatus(this.time(atMs), state, this.c));
      }
    }
  }

  /** Flushes every partial line (stream over, or run ended). */
  end(): void {
    for (const { key, lines } of this.splitter.flushAll()) this.writeLines(this.names.get(key) ?? key, lines);
  }

  /** Prints the summary for a run whose end came from GetRun, not from the stream. */
  summary(runId: string, state: string, durationMs: number | null): void {
    this.finalState = state;
    if (this.mode === "live") this.writeSummary(runId, state, durationMs);
  }

  /** `run <id> <state> in <t>`, then each retried stage's attempts. */
  private writeSummary(runId: string, state: string, durationMs: number | null): void {
    this.line(formatSummary(runId, state, durationMs, this.c));
    for (const stage of this.tracker.retriedStages()) {
      this.line(`  ${this.c.bold(stage)}: ${this.tracker.attempts(stage).map(describeAttempt).join(", ")}`);
    }
  }

  /** The first sign of attempt N of `stage` (its `running`, or its first output): print its boundary. */
  private attemptStarts(stage: string, attempt: number): void {
    const key = `${stage}#${attempt}`;
    if (attempt <= 1 || this.started.has(key)) return;
    this.started.add(key);
    if (!this.boundaries || this.mode === "live") return;
    const previous = this.tracker.attempts(stage).find((a) => a.number === attempt - 1);
    const text = attemptBoundary(stage, attempt, previous);
    if (this.mode === "raw") {
      this.raw(`${this.atLineStart ? "" : "\n"}${text}\n`);
      return;
    }
    this.line(this.c.bold(text));
  }

  /** Flushes partial lines of `stage`: all attempts, or only those before `keepAttempt`. */
  private flushStage(stage: string, keepAttempt: number | null): void {
    for (const key of this.splitter.pendingKeys()) {
      if (this.names.get(key) !== stage) continue;
      const attempt = Number(key.slice(key.lastIndexOf("#") + 1));
      if (keepAttempt !== null && attempt >= keepAttempt) continue;
      this.writeLines(stage, this.splitter.flush(key));
    }
  }

  private writeLines(stage: string, lines: SplitLine[]): void {
    if (lines.length === 0) return;
    const color = stageColor(stage, this.c);
    const text = lines.map(({ stream, text: t }) => {
      const prefix =
        this.mode === "logs" ? color(`[${stage}]`) + LOGS_MARK[stream] : color(`${stage} ${LIVE_MARK[stream]}`);
      // stderr is dimmed on a terminal; the mark tells it apart without colours too.
      return `${prefix} ${stream === "stderr" ? this.c.dim(t) : t}\n`;
    });
    this.options.write(text.join(""));
  }

  private raw(data: Uint8Array | string): void {
    if (data.length === 0) return;
    this.options.write(data);
    const last = typeof data === "string" ? data.charCodeAt(data.length - 1) : data[data.length - 1];
    this.atLineStart = last === 0x0a;
  }

  private line(text: string): void {
    this.options.write(`${text}\n`);
  }
}

function logStream(stream: Parameters<typeof streamName>[0]): StreamName {
  const name = streamName(stream);
  return name === "stderr" || name === "system" ? name : "stdout";
}
