// Turns RunEvents into the text a person reads: the live view (status lines,
// prefixed log lines, summary), the `logs` view, or raw log bytes.
import type { RunEvent } from "@dockyard/proto";
import { isTerminalState } from "../errors";
import { clockTime } from "../format/time";
import { LineSplitter } from "./line-splitter";
import { formatRunStatus, formatStageStatus, formatSummary, plainColors, stageColor } from "./status-format";
import type { Colors } from "./status-format";

/**
 * `live`: status lines, `build | line` logs, summary at the end.
 * `logs`: log lines only, as `[build] line`.
 * `raw`: log bytes only, unchanged (one stage's output).
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
}

/**
 * Renders the events of one run, in seq order, as they arrive. Not safe for
 * events of several runs at once. Call `end()` when the stream is over to flush
 * partial lines that never got their newline. Holds no timers or I/O.
 */
export class RunRenderer {
  private readonly splitter = new LineSplitter();
  private readonly names = new Map<string, string>();
  private readonly mode: RenderMode;
  private readonly c: Colors;
  private readonly time: (ms: number) => string;
  private firstAtMs: number | null = null;
  /** Terminal state of the run once its final RunStatus event was seen. */
  finalState: string | null = null;
  /** Run time from the first event to the terminal one, once known. */
  durationMs: number | null = null;

  constructor(private readonly options: RendererOptions) {
    this.mode = options.mode ?? "live";
    this.c = options.colors ?? plainColors;
    this.time = options.formatTime ?? clockTime;
  }

  /** Renders one event. */
  handle(ev: RunEvent): void {
    const atMs = Number(ev.atMs);
    this.firstAtMs ??= atMs;
    const body = ev.body;
    if (body.case === "log") {
      const log = body.value;
      if (this.mode === "raw") {
        this.options.write(log.data);
        return;
      }
      const key = `${log.stageName}#${log.attempt}`;
      this.names.set(key, log.stageName);
      this.writeLines(log.stageName, this.splitter.push(key, log.data));
    } else if (body.case === "stage") {
      const s = body.value;
      if (isTerminalState(s.state) || s.state === "running") this.flushStage(s.stageName, isTerminalState(s.state) ? null : s.attempt);
      if (this.mode === "live") this.line(formatStageStatus(this.time(atMs), s, this.c));
    } else if (body.case === "run") {
      const state = body.value.state;
      if (isTerminalState(state)) {
        this.end();
        this.finalState = state;
        this.durationMs = Math.max(0, atMs - this.firstAtMs);
        if (this.mode === "live") this.line(formatSummary(ev.runId, state, this.durationMs, this.c));
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
    if (this.mode === "live") this.line(formatSummary(runId, state, durationMs, this.c));
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

  private writeLines(stage: string, lines: string[]): void {
    if (lines.length === 0) return;
    const color = stageColor(stage, this.c);
    const prefix = this.mode === "logs" ? color(`[${stage}]`) + " " : color(`${stage} |`) + " ";
    this.options.write(lines.map((l) => `${prefix}${l}\n`).join(""));
  }

  private line(text: string): void {
    this.options.write(`${text}\n`);
  }
}
