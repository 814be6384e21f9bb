// Cron expressions of schedules: fields, zones and the minimum interval, each refusal naming its problem.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MIN_INTERVAL_MS, nextTime, parseCron } from "./cron";

const NOW = new Date("2026-03-28T23:59:30Z");

test("five fields fire on the minute; six fields add a leading seconds field", () => {
  parseCron("* * * * *", "UTC", NOW);
  assert.equal(nextTime({ expression: "* * * * *", timezone: "UTC" }, NOW)?.toISOString(), "2026-03-29T00:00:00.000Z");
  parseCron("*/15 * * * * *", "UTC", NOW);
  assert.equal(
    nextTime({ expression: "*/15 * * * * *", timezone: "UTC" }, NOW)?.toISOString(),
    "2026-03-28T23:59:45.000Z",
  );
});

test("the zone says how the fields are read (Europe/Berlin switches to summer time that night)", () => {
  const spec = { expression: "0 9 * * *", timezone: "Europe/Berlin" };
  parseCron(spec.expression, spec.timezone, NOW);
  assert.equal(nextTime(spec, NOW)?.toISOString(), "2026-03-29T07:00:00.000Z"); // 09:00 CEST
  assert.equal(nextTime(spec, new Date("2026-03-27T12:00:00Z"))?.toISOString(), "2026-03-28T08:00:00.000Z"); // CET
});

test("a wrong number of fields is refused, naming the count and what is expected", () => {
  assert.throws(
    () => parseCron("* * *", "UTC", NOW),
    /has 3 fields: expected 5 \(minute hour day month weekday\) or 6/,
  );
  assert.throws(() => parseCron("0 0 * * * * 2027", "UTC", NOW), /has 7 fields/);
  assert.throws(() => parseCron("   ", "UTC", NOW), /cron expression is empty/);
  assert.throws(() => parseCron("*".repeat(201), "UTC", NOW), /longer than 200 characters/);
});

test("a field out of its range is refused, naming the field", () => {
  assert.throws(() => parseCron("61 * * * *", "UTC", NOW), /'61 \* \* \* \*' is invalid: .*minute/);
  assert.throws(() => parseCron("0 25 * * *", "UTC", NOW), /invalid: .*hour/);
  assert.throws(() => parseCron("0 0 * 13 *", "UTC", NOW), /invalid: .*month/);
  assert.throws(() => parseCron("0 0 * * funday", "UTC", NOW), /invalid/);
});

test("an unknown zone is refused, naming it", () => {
  assert.throws(() => parseCron("0 9 * * *", "Mars/Olympus", NOW), /unknown timezone 'Mars\/Olympus'/);
  assert.throws(() => parseCron("0 9 * * *", "", NOW), /timezone must be an IANA name/);
});

test("an expression firing more often than the minimum interval is refused, naming the gap and the bound", () => {
  assert.equal(MIN_INTERVAL_MS, 10_000);
  assert.throws(() => parseCron("*/5 * * * * *", "UTC", NOW), /fires 5 s apart .*shortest interval allowed is 10 s/);
  assert.throws(() => parseCron("* * * * * *", "UTC", NOW), /fires 1 s apart/);
  // A burst later in the day is found too (two seconds apart at 03:00).
  assert.throws(() => parseCron("0,2 0 3 * * *", "UTC", NOW), /fires 2 s apart/);
  // Positive controls at and above the bound.
  parseCron("*/10 * * * * *", "UTC", NOW);
  parseCron("0 3 * * *", "UTC", NOW);
});
