// The schedule part of the web app's services: ScheduleService (as the gRPC handlers use it),
// its rows turned into the public JSON of @dockyard/web's schedule-types.
import type { ScheduleTickView, ScheduleView, ScheduleWebServices } from "@dockyard/web";
import type { ScheduleService } from "./schedules/schedule-service";
import type { ScheduleListing, TickRow } from "./store/schedules";
import { actorOf } from "./transport/grpc/caller";

export function scheduleView(s: ScheduleListing): ScheduleView {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    source: s.source,
    owner: s.owner,
    enabled: s.enabled,
    nextAt: s.nextAt.toISOString(),
    services: s.services,
    lastRun: s.lastRunId ? { id: s.lastRunId, ref: s.lastRunRef, state: s.lastRunState } : null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

export function tickView(t: TickRow): ScheduleTickView {
  return {
    at: t.at.toISOString(),
    kind: t.kind,
    run: t.runId ? { id: t.runId, ref: t.runRef } : null,
    skipped: t.skipped,
    note: t.note || null,
  };
}

export function scheduleWebServices(schedules: ScheduleService): ScheduleWebServices {
  return {
    listSchedules: async () => (await schedules.list()).map(scheduleView),
    getSchedule: async (name) => scheduleView(await schedules.get(name)),
    createSchedule: async (input, caller) =>
      scheduleView(
        await schedules.create(
          {
            name: input.name,
            cron: input.cron,
            timezone: input.timezone,
            pipelineYaml: input.pipeline,
            source: "http:schedule",
            defaultName: input.defaultName,
          },
          actorOf(caller),
        ),
      ),
    deleteSchedule: async (name, caller) => schedules.remove(name, actorOf(caller)),
    setScheduleEnabled: async (name, enabled, caller) =>
      scheduleView(await schedules.setEnabled(name, enabled, actorOf(caller))),
    scheduleTicks: async (name, limit) => (await schedules.ticks(name, limit)).map(tickView),
  };
}
