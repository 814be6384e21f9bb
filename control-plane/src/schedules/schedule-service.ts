// What `dockyard schedules` and /api/v1/schedules do: add, list, remove, pause and resume
// schedules and read their ticks. Shared by the gRPC and HTTP edges; every input is checked
// here (name, cron, zone, the pipeline as a submit would check it) and every change audited.
import type { PipelineSpec } from "@dockyard/pipeline";
import type { Db } from "../store/db";
import type { Clock } from "../clock";
import type { Actor } from "../store/audit";
import { audit } from "../store/audit";
import { withTx } from "../store/tx";
import type { RunsService, SubmitExtras } from "../runs-service";
import {
  deleteSchedule,
  insertSchedule,
  listSchedules,
  listTicks,
  lockScheduleByName,
  updateSchedule,
  type ScheduleListing,
  type TickRow,
} from "../store/schedules";
import { nextTime, parseCron } from "./cron";
import { InvalidError, NotFoundError } from "../errors";
import { newId } from "../ids";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
/** A pipeline file is small; the uploaded source is bounded by submit (MAX_SOURCE_BYTES). */
export const MAX_SCHEDULE_YAML_BYTES = 256 * 1024;
export const DEFAULT_TICKS_LIMIT = 50;
export const MAX_TICKS_LIMIT = 500;

export interface NewSchedule extends SubmitExtras {
  name: string;
  cron: string;
  /** Default UTC. */
  timezone?: string;
  pipelineYaml: string | Uint8Array;
  /** As a run's source (`cli:FILE`); kept with every run the schedule makes. */
  source: string;
  defaultName?: string;
}

export interface ScheduleServiceDeps {
  db: Db;
  clock: Clock;
  runs: Pick<RunsService, "prepare">;
  /** Wakes this replica's ticker (a schedule was added or resumed). */
  kick?: () => void;
}

export function checkScheduleName(name: string): string {
  if (!NAME.test(name)) {
    throw new InvalidError(
      `invalid schedule name '${name.slice(0, 64)}': expected 1-40 of A-Z a-z 0-9 . _ - (starting with a letter or digit)`,
    );
  }
  return name;
}

/** The Dockyard services a pipeline's ui-test stages target (read by name: the kind may be any version). */
export function continuousServices(pipeline: PipelineSpec): string[] {
  const names = pipeline.stages.flatMap((s) => {
    const service = (s.spec as unknown as Record<string, unknown>).service;
    return String(s.type) === "ui-test" && typeof service === "string" && service ? [service] : [];
  });
  return [...new Set(names)];
}

export class ScheduleService {
  constructor(private readonly deps: ScheduleServiceDeps) {}

  /** Check and store a schedule; the first tick is the cron's next time. InvalidError, ConflictError (name taken). */
  async create(input: NewSchedule, actor: Actor): Promise<ScheduleListing> {
    if (actor.kind !== "user") throw new InvalidError("a schedule is owned by a user (its runs are submitted as them)");
    const name = checkScheduleName(input.name);
    const timezone = input.timezone || "UTC";
    const now = this.deps.clock.now();
    parseCron(input.cron, timezone, now);
    const size =
      typeof input.pipelineYaml === "string" ? Buffer.byteLength(input.pipelineYaml) : input.pipelineYaml.length;
    if (size === 0) throw new InvalidError("the pipeline file is empty");
    if (size > MAX_SCHEDULE_YAML_BYTES)
      throw new InvalidError(`the pipeline file is ${size} bytes; the limit is ${MAX_SCHEDULE_YAML_BYTES}`);
    if (input.source.length > 200) throw new InvalidError("source is longer than 200 characters");
    // Checked as its runs will be (file, source, secrets, channels), so a schedule never starts broken.
    const prepared = await this.deps.runs.prepare(
      input.pipelineYaml,
      input.source,
      input.defaultName,
      { commit: input.commit, sourceTar: input.sourceTar },
      actor,
    );
    const id = newId();
    const cron = input.cron.trim().replace(/\s+/g, " ");
    await withTx(this.deps.db, async (tx) => {
      await insertSchedule(tx, {
        id,
        name,
        cron,
        timezone,
        pipelineYaml: prepared.text,
        source: prepared.origin.source,
        defaultName: input.defaultName ?? "",
        commit: prepared.origin.commit,
        sourceTar: prepared.origin.sourceTar,
        services: continuousServices(prepared.pipeline),
        ownerId: actor.userId,
        enabled: true,
        nextAt: nextTime({ expression: cron, timezone }, now)!,
        createdAt: now,
        updatedAt: now,
      });
      await audit(tx, {
        actor,
        action: "schedule.created",
        target: name,
        details: { cron, timezone, pipeline: prepared.pipeline.name },
        at: now,
      });
    });
    this.deps.kick?.();
    return this.get(name);
  }

  async list(): Promise<ScheduleListing[]> {
    return listSchedules(this.deps.db);
  }

  /** NotFoundError for an unknown name. */
  async get(name: string): Promise<ScheduleListing> {
    const [row] = await listSchedules(this.deps.db, checkScheduleName(name));
    if (!row) throw new NotFoundError("schedule", name);
    return row;
  }

  /** Remove it and its ticks (its runs stay). NotFoundError. */
  async remove(name: string, actor: Actor): Promise<void> {
    checkScheduleName(name);
    const now = this.deps.clock.now();
    await withTx(this.deps.db, async (tx) => {
      const row = await lockScheduleByName(tx, name);
      await deleteSchedule(tx, row.id);
      await audit(tx, { actor, action: "schedule.deleted", target: name, details: { cron: row.cron }, at: now });
    });
  }

  /**
   * Pause or resume. A resumed schedule's next tick is its cron's next time from now: the ticks
   * that fell while it was paused are not made up. NotFoundError.
   */
  async setEnabled(name: string, enabled: boolean, actor: Actor): Promise<ScheduleListing> {
    checkScheduleName(name);
    const now = this.deps.clock.now();
    await withTx(this.deps.db, async (tx) => {
      const row = await lockScheduleByName(tx, name);
      if (row.enabled === enabled) return;
      const nextAt = enabled ? nextTime({ expression: row.cron, timezone: row.timezone }, now) : row.nextAt;
      await updateSchedule(tx, row.id, { enabled, nextAt: nextAt ?? row.nextAt, updatedAt: now });
      await audit(tx, { actor, action: enabled ? "schedule.resumed" : "schedule.paused", target: name, at: now });
    });
    if (enabled) this.deps.kick?.();
    return this.get(name);
  }

  /** The newest ticks first: `limit` (0 or unset: DEFAULT_TICKS_LIMIT) up to MAX_TICKS_LIMIT. */
  async ticks(name: string, limit?: number): Promise<TickRow[]> {
    const n = limit || DEFAULT_TICKS_LIMIT;
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_TICKS_LIMIT)
      throw new InvalidError(
        `invalid limit ${String(limit).slice(0, 32)}: expected a whole number from 1 to ${MAX_TICKS_LIMIT}`,
      );
    const schedule = await this.get(name);
    return listTicks(this.deps.db, schedule.id, n);
  }
}
