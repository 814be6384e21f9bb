// The schedule ticker: every replica runs one, and each tick fires once. A beat claims one due
// schedule at a time (store/schedules.ts claimDue, SKIP LOCKED) and, in that transaction,
// advances it, records the tick and writes its run through the ordinary submit checks as the
// schedule's owner; the run's events and dispatch follow the commit. A schedule never overlaps
// itself: while its last run is queued or running the tick is recorded as skipped, naming it.
// Ticks missed while no server ran fire once (a `catch-up` tick that says how many it stands for).
import type { Logger } from "pino";
import type { Db, Tx } from "../store/db";
import type { Clock } from "../clock";
import { withTx } from "../store/tx";
import type { RunsService, WrittenRun } from "../runs-service";
import { activeRun, claimDue, ownerOf, recordTick, updateSchedule, type ScheduleRow } from "../store/schedules";
import { hasRole } from "../access/roles";
import { DockyardError } from "../errors";
import { nextTime } from "./cron";

/** Counting missed ticks stops here (a schedule down for years still fires once). */
const MAX_MISSED_COUNT = 10_000;
/** A beat fires at most this many ticks before it lets the event loop breathe. */
const MAX_TICKS_PER_BEAT = 100;
/** Far enough to mean never (an expression with no next time, e.g. a past date). */
const NEVER = new Date("9999-01-01T00:00:00Z");

export interface ScheduleTickerDeps {
  db: Db;
  clock: Clock;
  runs: Pick<RunsService, "prepare" | "write" | "afterWrite">;
  log: Logger;
  /** DOCKYARD_CONTINUOUS_INTERVAL: how often a schedule ticks while a service it tests is being updated. */
  continuousIntervalMs: number;
  /** How often the ticker looks for due schedules (a service's update starting is seen within it). */
  pollMs: number;
}

/**
 * start() beats at once (so ticks missed while down fire now) and then every pollMs; kick()
 * beats soon; stop() waits for a beat in flight. Beats never run concurrently on one replica;
 * across replicas the row locks keep each tick to one.
 */
export class ScheduleTicker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly deps: ScheduleTickerDeps) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  kick(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.beat().finally(() => {
        this.running = null;
        if (!this.stopped) this.schedule(this.deps.pollMs);
      });
    }, ms);
  }

  /** Fire every due tick (up to MAX_TICKS_PER_BEAT). Never throws: a failure is logged and the next beat tries again. */
  async beat(): Promise<void> {
    for (let i = 0; i < MAX_TICKS_PER_BEAT && !this.stopped; i++) {
      try {
        if (!(await this.tickOne())) return;
      } catch (err) {
        this.deps.log.error({ err }, "schedule tick failed");
        return;
      }
    }
  }

  /** Claim and fire one due schedule; false when none is due. */
  async tickOne(): Promise<boolean> {
    const { db, clock, runs } = this.deps;
    const now = clock.now();
    let written: WrittenRun | null = null;
    let claimed: ScheduleRow | null = null;
    let next: { nextAt: Date; nextContinuousAt: Date; kind: string } | null = null;
    try {
      const fired = await withTx(db, async (tx) => {
        written = null;
        const claim = await claimDue(tx, now);
        if (!claim) return false;
        claimed = claim.row;
        const { row } = claim;
        const timing = this.timing(row, claim.continuous, now);
        next = { nextAt: timing.nextAt, nextContinuousAt: timing.nextContinuousAt, kind: timing.kind };
        const base = { scheduleId: row.id, at: now, kind: timing.kind, note: timing.note };
        const set = { nextAt: timing.nextAt, nextContinuousAt: timing.nextContinuousAt, updatedAt: now };
        const skipped = await this.skipReason(tx, row);
        if (skipped) {
          await recordTick(tx, { ...base, skipped });
          await updateSchedule(tx, row.id, set);
          return true;
        }
        const owner = (await ownerOf(tx, row.ownerId))!;
        const actor = { kind: "user" as const, userId: owner.id, name: owner.name };
        let prepared;
        try {
          prepared = await runs.prepare(
            row.pipelineYaml,
            row.source,
            row.defaultName || undefined,
            { commit: row.commit || undefined, sourceTar: row.sourceTar ?? undefined },
            actor,
            tx, // its checks read in this transaction: on PGlite the pool's one connection is ours
          );
        } catch (err) {
          // A secret or channel it names was removed since: the schedule stays, its ticks say why.
          if (!(err instanceof DockyardError)) throw err;
          await recordTick(tx, { ...base, skipped: `the pipeline was refused: ${err.message}`.slice(0, 2000) });
          await updateSchedule(tx, row.id, set);
          return true;
        }
        const w = await runs.write(tx, prepared);
        await recordTick(tx, { ...base, runId: w.run.id, runRef: `${w.run.name}#${w.run.number}` });
        await updateSchedule(tx, row.id, { ...set, lastRunId: w.run.id });
        written = w;
        return true;
      });
      if (written) {
        runs.afterWrite(written);
        const run = (written as WrittenRun).run;
        this.deps.log.info({ schedule: claimed!.name, runId: run.id, number: run.number }, "schedule started a run");
      }
      return fired;
    } catch (err) {
      if (!claimed || !next) throw err;
      // Advance it anyway, or the next claim would pick it again at once and fail the same way.
      const row: ScheduleRow = claimed;
      this.deps.log.error({ err, schedule: row.name }, "schedule tick failed");
      const message = err instanceof Error ? err.message : String(err);
      const set: { nextAt: Date; nextContinuousAt: Date } = next;
      await withTx(db, async (tx) => {
        await recordTick(tx, {
          scheduleId: row.id,
          at: now,
          kind: "cron",
          skipped: `errored: ${message}`.slice(0, 2000),
        });
        await updateSchedule(tx, row.id, { ...set, updatedAt: now });
      });
      return true;
    }
  }

  /** What kind of tick this is, and the schedule's next times. */
  private timing(row: ScheduleRow, continuous: boolean, now: Date) {
    const nextContinuousAt = new Date(now.getTime() + this.deps.continuousIntervalMs);
    if (continuous) return { kind: "continuous", note: "", nextAt: row.nextAt, nextContinuousAt };
    const spec = { expression: row.cron, timezone: row.timezone };
    let missed = 0;
    for (let t = nextTime(spec, row.nextAt); t && t <= now && missed < MAX_MISSED_COUNT; t = nextTime(spec, t))
      missed++;
    const note =
      missed > 0
        ? `${missed + 1} ticks fell due while no server ran (from ${row.nextAt.toISOString()}): fired once`
        : "";
    return { kind: missed > 0 ? "catch-up" : "cron", note, nextAt: nextTime(spec, now) ?? NEVER, nextContinuousAt };
  }

  /** Why this tick makes no run, or null: its last run is still active, or its owner may no longer run pipelines. */
  private async skipReason(tx: Tx, row: ScheduleRow): Promise<string | null> {
    const active = await activeRun(tx, row.lastRunId);
    if (active) return `previous run ${active.ref} still ${active.state}`;
    const owner = await ownerOf(tx, row.ownerId);
    if (!owner) return "the schedule's owner no longer exists";
    if (owner.disabledAt) return `owner ${owner.name} is disabled`;
    if (!hasRole(owner.roles, "operator"))
      return `owner ${owner.name} does not hold the operator role (needed to submit runs)`;
    return null;
  }
}
