// Cron expressions of schedules, read by croner: 5 fields (minute hour day month weekday) or 6
// with a leading seconds field, so a journey can run more often than once a minute. A zone
// (IANA name, default UTC) says how the fields are read. Expressions that fire more often than
// MIN_INTERVAL_MS are refused: a schedule must not flood the farm.
import { Cron } from "croner";
import { InvalidError } from "../errors";

export const MIN_INTERVAL_MS = 10_000;
export const MAX_CRON_LENGTH = 200;
/** How many upcoming times are compared against MIN_INTERVAL_MS (a burst later in a day is among them). */
const INTERVAL_SAMPLE = 200;

export interface CronSpec {
  expression: string;
  timezone: string;
}

/** A checked expression; InvalidError names what is wrong (field count, a field's value, the zone, the interval). */
export function parseCron(expression: string, timezone = "UTC", now = new Date()): Cron {
  const expr = expression.trim();
  if (!expr) throw new InvalidError("cron expression is empty: expected 5 fields (minute hour day month weekday)");
  if (expr.length > MAX_CRON_LENGTH)
    throw new InvalidError(`cron expression is longer than ${MAX_CRON_LENGTH} characters`);
  checkTimezone(timezone);
  const fields = expr.split(/\s+/).length;
  if (!expr.startsWith("@") && fields !== 5 && fields !== 6) {
    throw new InvalidError(
      `cron expression '${expr}' has ${fields} field${fields === 1 ? "" : "s"}: expected 5 ` +
        "(minute hour day month weekday) or 6 (a leading seconds field)",
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(expr, { timezone, paused: true, mode: "5-or-6-parts" });
  } catch (err) {
    throw new InvalidError(`cron expression '${expr}' is invalid: ${(err as Error).message}`);
  }
  const runs = cron.nextRuns(INTERVAL_SAMPLE, now);
  if (runs.length === 0) throw new InvalidError(`cron expression '${expr}' never fires`);
  for (let i = 1; i < runs.length; i++) {
    const gap = runs[i]!.getTime() - runs[i - 1]!.getTime();
    if (gap < MIN_INTERVAL_MS) {
      throw new InvalidError(
        `cron expression '${expr}' fires ${gap / 1000} s apart (at ${runs[i - 1]!.toISOString()} and ` +
          `${runs[i]!.toISOString()}); the shortest interval allowed is ${MIN_INTERVAL_MS / 1000} s`,
      );
    }
  }
  return cron;
}

/** The first time the expression fires strictly after `after`; null when it never fires again. */
export function nextTime(spec: CronSpec, after: Date): Date | null {
  return new Cron(spec.expression, { timezone: spec.timezone, paused: true, mode: "5-or-6-parts" }).nextRun(after);
}

function checkTimezone(tz: string): void {
  if (!tz || tz.length > 64) throw new InvalidError("timezone must be an IANA name of 1-64 characters, e.g. UTC");
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
  } catch {
    throw new InvalidError(`unknown timezone '${tz}': expected an IANA name such as UTC or Europe/Berlin`);
  }
}
