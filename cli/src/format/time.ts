// Human formatting of times and durations for tables and the live view.

/** "4.2s", "3m12s", "1h02m"; negative or non-finite durations give "-". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 3600) {
    return `${Math.floor(totalSeconds / 60)}m${pad2(totalSeconds % 60)}s`;
  }
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h${pad2(totalMinutes % 60)}m`;
}

/** How long ago `thenMs` was: "5s ago", "3m12s ago"; 0 means never. */
export function formatAge(thenMs: number, nowMs: number): string {
  if (thenMs <= 0) return "never";
  const ms = Math.max(0, nowMs - thenMs);
  if (ms < 60_000) return `${Math.floor(ms / 1000)}s ago`;
  return `${formatDuration(ms)} ago`;
}

/** Local wall-clock time "12:00:01" (the live view's timestamps). */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** UTC wall-clock time "12:00:01"; tests use it to be independent of TZ. */
export function clockTimeUtc(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** Local "2024-05-01 12:00:01" for tables; 0 gives "-". */
export function localDateTime(ms: number): string {
  if (ms <= 0) return "-";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${clockTime(ms)}`;
}

/** ISO-8601 UTC for JSON output; 0 (proto default, "not set") gives null. */
export function isoOrNull(ms: bigint | number): string | null {
  const n = Number(ms);
  return n > 0 ? new Date(n).toISOString() : null;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
