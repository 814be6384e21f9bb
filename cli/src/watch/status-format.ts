// Text of the live view's status lines and final summary.
import pc from "picocolors";
import { formatDuration } from "../format/time";

/** Styling functions; `plainColors` when output is not a terminal. */
export type Colors = ReturnType<typeof pc.createColors>;

/** Colours that do nothing (for pipes, files, NO_COLOR and tests). */
export const plainColors: Colors = pc.createColors(false);

/** Colours for a terminal. */
export const ttyColors: Colors = pc.createColors(true);

/** The fields of a StageStatus event the view shows. */
export interface StageStatusView {
  stageName: string;
  state: string;
  attempt: number;
  agentId: string;
  /** Shown instead of the id when the server sends it. */
  agentName?: string;
  /** Unset when there is none (not ended, lost, timed out, canceled). */
  exitCode?: number;
  reason: string;
}

/** Colours a state word: green success, red failure, yellow canceled, cyan in progress. */
export function colorState(state: string, c: Colors): string {
  switch (state) {
    case "succeeded":
      return c.green(state);
    case "failed":
    case "errored":
    case "lost":
    case "timeout":
      return c.red(state);
    case "canceled":
      return c.yellow(state);
    case "running":
    case "assigned":
      return c.cyan(state);
    default:
      return c.dim(state);
  }
}

/**
 * One status line, e.g. `12:00:01 build  running  (attempt 1 on agent-a)`,
 * `12:00:09 build  lost  (attempt 1 on agent-a)  (agent lost: no heartbeat)` or
 * `12:00:03 build  failed  exit 2  (reason)`. `time` is already formatted.
 */
export function formatStageStatus(time: string, s: StageStatusView, c: Colors = plainColors): string {
  const parts = [`${c.dim(time)} ${c.bold(s.stageName)}`, colorState(s.state, c)];
  const agent = s.agentName || s.agentId;
  if (s.state === "assigned" || s.state === "running" || s.state === "lost" || s.state === "timeout") {
    parts.push(agent ? `(attempt ${s.attempt} on ${agent})` : `(attempt ${s.attempt})`);
  } else if (s.state === "succeeded" || s.state === "failed") {
    if (s.exitCode !== undefined) parts.push(`exit ${s.exitCode}`);
    if (s.attempt > 1) parts.push(`(attempt ${s.attempt})`);
  }
  if (s.reason && s.state !== "succeeded") parts.push(c.dim(`(${s.reason})`));
  return parts.join("  ");
}

/**
 * What an approval stage did, e.g. `12:05:01 gate  approved by alice via cli  (ship it)`,
 * `12:04:00 gate  reminder  (waiting for approval by ... )`. Its `waiting` is left to the stage line.
 */
export function formatApproval(
  time: string,
  a: { stageName: string; action: string; by: string; via: string; comment: string; reason: string; onTimeout: string },
  c: Colors = plainColors,
): string | null {
  const head = `${c.dim(time)} ${c.bold(a.stageName)}`;
  switch (a.action) {
    case "approved":
    case "rejected":
      return [
        head,
        `${a.action === "approved" ? c.green(a.action) : c.red(a.action)} by ${a.by} via ${a.via}`,
        ...(a.comment ? [c.dim(`(${a.comment})`)] : []),
      ].join("  ");
    case "reminder":
      return `${head}  ${c.yellow("reminder")}  ${c.dim(`(${a.reason})`)}`;
    case "timed_out":
      return `${head}  ${c.yellow("no decision by the deadline")}  ${c.dim(`(on_timeout: ${a.onTimeout})`)}`;
    default:
      return null;
  }
}

/** A run-level status line that is not the end, e.g. `12:00:00 run  running`. */
export function formatRunStatus(time: string, state: string, c: Colors = plainColors): string {
  return `${c.dim(time)} ${c.bold("run")}  ${colorState(state, c)}`;
}

/** The final line: `run <id> succeeded in 4.2s` (duration left out when unknown). */
export function formatSummary(
  runId: string,
  state: string,
  durationMs: number | null,
  c: Colors = plainColors,
): string {
  const tail = durationMs === null ? "" : ` in ${formatDuration(durationMs)}`;
  return `${c.bold(`run ${runId}`)} ${colorState(state, c)}${tail}`;
}

const STAGE_COLORS = ["cyan", "magenta", "blue", "yellow", "green"] as const;

/** A stable colour per stage name, so interleaved logs are easy to tell apart. */
export function stageColor(name: string, c: Colors): (s: string) => string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return c[STAGE_COLORS[h % STAGE_COLORS.length]!];
}
