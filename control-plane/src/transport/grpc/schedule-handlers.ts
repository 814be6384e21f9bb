// RunService handlers for schedules (`dockyard schedules`): viewers list them and their ticks,
// operators add, remove, pause and resume them (the access table); ScheduleService checks and audits.
import type { Logger } from "pino";
import {
  create,
  CreateScheduleResponseSchema,
  DeleteScheduleResponseSchema,
  ListScheduleTicksResponseSchema,
  ListSchedulesResponseSchema,
  ScheduleInfoSchema,
  ScheduleTickSchema,
  SetScheduleEnabledResponseSchema,
  type RunService,
  type ServiceHandlers,
} from "@dockyard/proto";
import type { ScheduleService } from "../../schedules/schedule-service";
import type { ScheduleListing, TickRow } from "../../store/schedules";
import { actorOf } from "./caller";
import { userUnary } from "./user-unary";

type All = ServiceHandlers<(typeof RunService)["method"]>;
export type ScheduleHandlers = Pick<
  All,
  "createSchedule" | "listSchedules" | "deleteSchedule" | "setScheduleEnabled" | "listScheduleTicks"
>;

export function scheduleHandlers(schedules: ScheduleService, log: Logger): ScheduleHandlers {
  const unary = userUnary(log);
  return {
    createSchedule: unary(async (req, caller) => {
      const schedule = await schedules.create(
        {
          name: req.name,
          cron: req.cron,
          timezone: req.timezone,
          pipelineYaml: req.pipelineYaml,
          source: req.source || "api:schedule",
          defaultName: req.defaultName || undefined,
          sourceTar: req.sourceTar,
          commit: req.commit || undefined,
        },
        actorOf(caller),
      );
      return create(CreateScheduleResponseSchema, { schedule: toScheduleInfo(schedule) });
    }),
    listSchedules: unary(async () =>
      create(ListSchedulesResponseSchema, { schedules: (await schedules.list()).map(toScheduleInfo) }),
    ),
    deleteSchedule: unary(async (req, caller) => {
      await schedules.remove(req.name, actorOf(caller));
      return create(DeleteScheduleResponseSchema, {});
    }),
    setScheduleEnabled: unary(async (req, caller) => {
      const schedule = await schedules.setEnabled(req.name, req.enabled, actorOf(caller));
      return create(SetScheduleEnabledResponseSchema, { schedule: toScheduleInfo(schedule) });
    }),
    listScheduleTicks: unary(async (req) =>
      create(ListScheduleTicksResponseSchema, {
        ticks: (await schedules.ticks(req.name, req.limit)).map(toScheduleTick),
      }),
    ),
  };
}

export function toScheduleInfo(s: ScheduleListing) {
  return create(ScheduleInfoSchema, {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    source: s.source,
    owner: s.owner,
    enabled: s.enabled,
    nextAtMs: BigInt(s.nextAt.getTime()),
    lastRunId: s.lastRunId ?? "",
    lastRunRef: s.lastRunRef,
    lastRunState: s.lastRunState,
    services: s.services,
    createdAtMs: BigInt(s.createdAt.getTime()),
    updatedAtMs: BigInt(s.updatedAt.getTime()),
    hasSourceTar: s.hasSourceTar,
  });
}

function toScheduleTick(t: TickRow) {
  return create(ScheduleTickSchema, {
    atMs: BigInt(t.at.getTime()),
    kind: t.kind,
    runId: t.runId ?? "",
    runRef: t.runRef,
    skipped: t.skipped ?? "",
    note: t.note,
  });
}
