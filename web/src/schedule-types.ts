// Schedules' public JSON (GET/POST /api/v1/schedules, .../ticks; `dockyard schedules --json`
// prints the same): a value that does not exist is null.
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
