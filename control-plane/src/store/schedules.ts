// Schedules in Postgres: the rows `dockyard schedules` manages, their recorded ticks, and the
// claim the ticker makes. A due schedule is claimed FOR UPDATE SKIP LOCKED, so with every
// replica ticking each tick fires on exactly one of them, in the transaction that advances it.
import { desc, eq, sql } from "drizzle-orm";
import { queryRows, type Db, type Tx } from "./db";
import { runs, scheduleTicks, schedules, users } from "./schema";
import { ACTIVE_ATTEMPTS_SQL } from "./state-sql";
import { ConflictError, NotFoundError } from "../errors";

export type ScheduleRow = typeof schedules.$inferSelect;
export type NewScheduleRow = typeof schedules.$inferInsert;
export type TickRow = typeof scheduleTicks.$inferSelect;

/** A schedule as listed: its owner's name and its last run's ref and state. */
export interface ScheduleListing extends Omit<ScheduleRow, "sourceTar"> {
  owner: string;
  hasSourceTar: boolean;
  lastRunRef: string;
  lastRunState: string;
}

/** The coordinator phases during which a service's update is "in progress" (its roll and its watch window). */
export const CONTINUOUS_PHASES = ["rolling", "watching"] as const;

export async function insertSchedule(tx: Tx, row: NewScheduleRow): Promise<void> {
  const inserted = await tx
    .insert(schedules)
    .values(row)
    .onConflictDoNothing({ target: schedules.name })
    .returning({ id: schedules.id });
  if (inserted.length === 0) throw new ConflictError(`schedule '${row.name}' already exists`);
}

export async function listSchedules(db: Db, name?: string): Promise<ScheduleListing[]> {
  const rows = await db
    .select({
      s: schedules,
      owner: users.name,
      runName: runs.name,
      runNumber: runs.number,
      runState: runs.state,
    })
    .from(schedules)
    .innerJoin(users, eq(users.id, schedules.ownerId))
    .leftJoin(runs, eq(runs.id, schedules.lastRunId))
    .where(name === undefined ? undefined : eq(schedules.name, name))
    .orderBy(schedules.name);
  return rows.map(({ s, owner, runName, runNumber, runState }) => {
    const { sourceTar, ...rest } = s;
    return {
      ...rest,
      owner,
      hasSourceTar: sourceTar !== null,
      lastRunRef: runName ? `${runName}#${runNumber}` : "",
      lastRunState: runState ?? "",
    };
  });
}

/** The schedule row, locked; NotFoundError when there is none by that name. */
export async function lockScheduleByName(tx: Tx, name: string): Promise<ScheduleRow> {
  const [row] = await tx.select().from(schedules).where(eq(schedules.name, name)).for("update");
  if (!row) throw new NotFoundError("schedule", name);
  return row;
}

export async function deleteSchedule(tx: Tx, id: string): Promise<void> {
  await tx.delete(schedules).where(eq(schedules.id, id));
}

export async function updateSchedule(tx: Tx, id: string, set: Partial<NewScheduleRow>): Promise<void> {
  await tx.update(schedules).set(set).where(eq(schedules.id, id));
}

/** Ticks kept per schedule: continuous ticks come every few seconds during an update, so older ones go. */
export const KEPT_TICKS = 1000;

/** Record a tick, and drop the schedule's ticks older than its newest KEPT_TICKS. */
export async function recordTick(tx: Tx, tick: typeof scheduleTicks.$inferInsert): Promise<void> {
  await tx.insert(scheduleTicks).values(tick);
  await tx.execute(sql`DELETE FROM schedule_ticks WHERE schedule_id = ${tick.scheduleId} AND id <= (
    SELECT id FROM schedule_ticks WHERE schedule_id = ${tick.scheduleId} ORDER BY id DESC OFFSET ${KEPT_TICKS} LIMIT 1)`);
}

/** The newest `limit` ticks, newest first. */
export async function listTicks(db: Db, scheduleId: string, limit: number): Promise<TickRow[]> {
  return db
    .select()
    .from(scheduleTicks)
    .where(eq(scheduleTicks.scheduleId, scheduleId))
    .orderBy(desc(scheduleTicks.at), desc(scheduleTicks.id))
    .limit(limit);
}

/**
 * One enabled schedule due at `now`, locked (SKIP LOCKED: another replica's claim is passed
 * over): its cron time has come, or one of its services is being updated (an update-service
 * attempt still active in a CONTINUOUS_PHASES phase) and its continuous time has come.
 */
export async function claimDue(tx: Tx, now: Date): Promise<{ row: ScheduleRow; continuous: boolean } | null> {
  const phases = sql.raw(`(${CONTINUOUS_PHASES.map((p) => `'${p}'`).join(", ")})`);
  const [hit] = await queryRows<{ id: string; cron_due: boolean }>(
    tx,
    sql`SELECT s.id, s.next_at <= ${now}::timestamptz AS cron_due FROM schedules s
      WHERE s.enabled AND (s.next_at <= ${now}::timestamptz OR (
        jsonb_array_length(s.services) > 0
        AND COALESCE(s.next_continuous_at, '-infinity'::timestamptz) <= ${now}::timestamptz
        AND EXISTS (SELECT 1 FROM service_deploys d JOIN attempts a ON a.id = d.attempt_id
          WHERE d.service IN (SELECT jsonb_array_elements_text(s.services))
            AND a.state IN ${ACTIVE_ATTEMPTS_SQL} AND a.server_state->>'phase' IN ${phases})))
      ORDER BY s.next_at LIMIT 1 FOR UPDATE OF s SKIP LOCKED`,
  );
  if (!hit) return null;
  const [row] = await tx.select().from(schedules).where(eq(schedules.id, hit.id));
  return { row: row!, continuous: !hit.cron_due };
}

/** The schedule's last run when it has not ended (queued or running): its ref and state. */
export async function activeRun(
  tx: Tx,
  runId: string | null,
): Promise<{ id: string; ref: string; state: string } | null> {
  if (!runId) return null;
  const [row] = await tx
    .select({ name: runs.name, number: runs.number, state: runs.state, finishedAt: runs.finishedAt })
    .from(runs)
    .where(eq(runs.id, runId));
  if (!row || row.finishedAt !== null || !["queued", "running"].includes(row.state)) return null;
  return { id: runId, ref: `${row.name}#${row.number}`, state: row.state };
}

/** The owner's name, roles and whether they are disabled (a tick checks them as the access guard would). */
export async function ownerOf(tx: Tx, userId: string) {
  const [row] = await tx.select().from(users).where(eq(users.id, userId));
  return row ?? null;
}
