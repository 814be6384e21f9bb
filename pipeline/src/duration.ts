import { PIPELINE_LIMITS } from './limits.js';

/**
 * Accepted duration syntax: integer + unit (`ms`, `s`, `m`, `h`), units may be combined in
 * descending order (`1h30m`, `2m30s`, `1s500ms`). Shared by the parser and the JSON Schema.
 */
export const DURATION_PATTERN = /^(?=\d)(\d+h)?(\d+m(?!s))?(\d+s)?(\d+ms)?$/;

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** Result of {@link parseDuration}. */
export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

/**
 * Parses a timeout such as `10m` or `1h30m` into milliseconds.
 * Accepts only values > 0 and <= 24h (>= 0 with `allowZero`: a window that may be off); never throws.
 */
export function parseDuration(text: string, options: { allowZero?: boolean } = {}): DurationResult {
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  if (/^\s*-/.test(text)) return { ok: false, message: `duration '${shown}' must be positive` };
  if (!DURATION_PATTERN.test(text)) {
    return {
      ok: false,
      message: `invalid duration '${shown}': expected an integer with unit ms, s, m or h, e.g. 90s, 10m or 1h30m`,
    };
  }
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  if (ms <= 0 && !options.allowZero) return { ok: false, message: `duration '${shown}' must be greater than 0` };
  if (ms > PIPELINE_LIMITS.maxTimeoutMs)
    return { ok: false, message: `duration '${shown}' exceeds the maximum of 24h` };
  return { ok: true, ms };
}
