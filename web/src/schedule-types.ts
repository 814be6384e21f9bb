// Schedules' public JSON (GET/POST /api/v1/schedules, .../ticks; `dockyard schedules --json`
// prints the same): a value that does not exist is null.
import { z } from "@hono/zod-openapi";

const time = z.string().openapi({ format: "date-time" });

export const ScheduleViewSchema = z
  .object({
    name: z.string(),
    cron: z.string(),
    timezone: z.string(),
    source: z.string(),
    owner: z.string(),
    enabled: z.boolean(),
    nextAt: time,
    services: z.array(z.string()).describe("Services whose update makes it tick every DOCKYARD_CONTINUOUS_INTERVAL."),
    lastRun: z.object({ id: z.string(), ref: z.string(), state: z.string() }).nullable(),
    createdAt: time,
    updatedAt: time,
  })
  .openapi("Schedule");
export type ScheduleView = z.infer<typeof ScheduleViewSchema>;

export const ScheduleTickViewSchema = z
  .object({
    at: time,
    kind: z.string().describe("cron | continuous | catch-up"),
    run: z.object({ id: z.string(), ref: z.string() }).nullable(),
    skipped: z.string().nullable().describe("Why it made no run; null when it made one."),
    note: z.string().nullable(),
  })
  .openapi("ScheduleTick");
export type ScheduleTickView = z.infer<typeof ScheduleTickViewSchema>;

/** `POST /schedules`: the pipeline file as text (no uploaded directory here: use a git source:, or the CLI). */
export interface NewScheduleInput {
  name: string;
  cron: string;
  timezone?: string;
  pipeline: string;
  /** The run's name when the file has none. */
  defaultName?: string;
}
