// Schedules' public JSON (GET/POST /api/v1/schedules, .../ticks; `dockyard schedules --json`
// prints the same): a value that does not exist is null.
import type { WebCaller } from "./types";

export interface ScheduleView {
  name: string;
  cron: string;
  timezone: string;
  source: string;
  owner: string;
  enabled: boolean;
  nextAt: string;
  /** Services whose update makes it tick every DOCKYARD_CONTINUOUS_INTERVAL. */
  services: string[];
  lastRun: { id: string; ref: string; state: string } | null;
  createdAt: string;
  updatedAt: string;
}

export interface ScheduleTickView {
  at: string;
  /** cron | continuous | catch-up */
  kind: string;
  run: { id: string; ref: string } | null;
  /** Why it made no run; null when it made one. */
  skipped: string | null;
  note: string | null;
}

/** `POST /schedules`: the pipeline file as text (no uploaded directory here: use a git source:, or the CLI). */
export interface NewScheduleInput {
  name: string;
  cron: string;
  timezone?: string;
  pipeline: string;
  /** The run's name when the file has none. */
  defaultName?: string;
}

/** What the schedule routes call (the same ScheduleService the gRPC handlers call). */
export interface ScheduleWebServices {
  listSchedules(): Promise<ScheduleView[]>;
  /** Rejects with "not_found". */
  getSchedule(name: string): Promise<ScheduleView>;
  /** Rejects with "invalid" (name, cron, zone, pipeline: naming the problem), "conflict" (the name is taken). */
  createSchedule(input: NewScheduleInput, caller: WebCaller): Promise<ScheduleView>;
  /** Rejects with "not_found". */
  deleteSchedule(name: string, caller: WebCaller): Promise<void>;
  setScheduleEnabled(name: string, enabled: boolean, caller: WebCaller): Promise<ScheduleView>;
  /** Newest first: `limit` (unset: 50, at most 500). */
  scheduleTicks(name: string, limit?: number): Promise<ScheduleTickView[]>;
}
