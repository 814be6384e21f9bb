// The stages of one or many runs, each with its needs (by name) and every attempt it
// made, in ONE statement however many runs are read (GetRun and ListRuns).
import { asc, inArray, sql } from "drizzle-orm";
import { parseJson, type Db } from "./db";
import { stages } from "./schema";

export type StageRow = typeof stages.$inferSelect;

/** One attempt of a stage, as it is now or as it ended (lost and timed-out ones included). */
export interface AttemptSummary {
  number: number;
  /** assigned | running | succeeded | failed | errored | canceled | lost | timeout */
  state: string;
  agentId: string;
  /** null when the agent row is gone. */
  agentName: string | null;
  assignedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  exitCode: number | null;
  reason: string | null;
  /** A server-run attempt's stored deadline (ISO; an approval's), null otherwise. */
  deadline?: string | null;
}

export interface StageWithAttempts extends StageRow {
  /** Names of the stages it needs, in stage order. */
  needs: string[];
  /** Every attempt, by number. */
  attemptHistory: AttemptSummary[];
}

interface RawAttempt {
  number: number;
  state: string;
  agentId: string;
  agentName: string | null;
  assignedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  reason: string | null;
  deadline: string | null;
}

/** Qualified: drizzle writes a one-table select's columns bare, and the subqueries have their own `id`s. */
const STAGE_ID = sql.raw(`"stages"."id"`);
const msOf = (column: string) => sql.raw(`(extract(epoch FROM a.${column}) * 1000)::float8`);
const date = (ms: number | null): Date | null => (ms === null ? null : new Date(Math.round(ms)));

/** Stages of `runIds` by run and position; an empty list reads nothing. */
export async function readStages(db: Pick<Db, "select">, runIds: string[]): Promise<Map<string, StageWithAttempts[]>> {
  const out = new Map<string, StageWithAttempts[]>();
  if (runIds.length === 0) return out;
  const rows = await db
    .select({
      stage: stages,
      needs: sql<string[] | string>`COALESCE((
      SELECT json_agg(n.name ORDER BY n.position) FROM stage_edges e JOIN stages n ON n.id = e.needs_stage_id
      WHERE e.stage_id = ${STAGE_ID}), '[]'::json)`,
      attempts: sql<RawAttempt[] | string>`COALESCE((
      SELECT json_agg(json_build_object(
        'number', a.number, 'state', a.state, 'agentId', a.agent_id, 'agentName', g.name,
        'assignedAt', ${msOf("assigned_at")}, 'startedAt', ${msOf("started_at")}, 'finishedAt', ${msOf("finished_at")},
        'exitCode', a.exit_code, 'reason', a.reason, 'deadline', a.server_state->>'deadline') ORDER BY a.number)
      FROM attempts a LEFT JOIN agents g ON g.id = a.agent_id WHERE a.stage_id = ${STAGE_ID}), '[]'::json)`,
    })
    .from(stages)
    .where(inArray(stages.runId, runIds))
    .orderBy(asc(stages.runId), asc(stages.position));
  for (const r of rows) {
    const list = out.get(r.stage.runId) ?? [];
    list.push({
      ...r.stage,
      needs: parseJson(r.needs),
      attemptHistory: parseJson(r.attempts).map((a) => ({
        ...a,
        assignedAt: date(a.assignedAt)!,
        startedAt: date(a.startedAt),
        finishedAt: date(a.finishedAt),
      })),
    });
    out.set(r.stage.runId, list);
  }
  return out;
}
