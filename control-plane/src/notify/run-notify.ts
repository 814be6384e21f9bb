// Pipeline-level `notify:`: on a run event named by a rule, one message per channel, written to
// the outbox in the transaction that writes the event (a run's end commits with its message or
// not at all). The event names come from @dockyard/pipeline's NOTIFY_EVENTS, the list the
// pipeline file is checked against; approval events arrive through the same function.
import { and, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { NOTIFY_EVENTS } from "@dockyard/pipeline";
import { queryRows, type Tx } from "../store/db";
import { runs, type NotifyRuleRow, type StageOutputsRow } from "../store/schema";
import { enqueueNotification } from "./outbox";
import { DEFAULT_BODY, DEFAULT_SUBJECT, type NotifyContext } from "./templates";

const EVENTS: ReadonlySet<string> = new Set(NOTIFY_EVENTS);

/** Whether `event` is one a `notify:` rule can name (a run state that is not, like running, never sends). */
export const isNotifyEvent = (event: string): boolean => EVENTS.has(event);

/** The rules of `rules` that fire on `event`. */
export function matchingRules(rules: NotifyRuleRow[] | null, event: string): NotifyRuleRow[] {
  if (!rules || !isNotifyEvent(event)) return [];
  return rules.filter((r) => r.on.includes(event));
}

/** What a run event's message adds: the approval's details for templates, and a subject prefix (a reminder's). */
export interface RunEventExtra {
  /** Extra template values, e.g. `approval` ({{ approval.by }}, {{ approval.deadline }}). */
  values?: Record<string, unknown>;
  /** Put before each rule's subject template (`Reminder (10m left): `). */
  subjectPrefix?: string;
}

/**
 * Enqueues the run's notifications for `event` (a run state like `failed`, or `waiting` /
 * `approved` / `rejected` from an approval stage, with that stage in `stage`). Inside the
 * caller's transaction; reads nothing more when the run has no matching rule.
 */
export async function notifyRunEvent(
  tx: Tx,
  runId: string,
  event: string,
  now: Date,
  stage?: { name: string; state: string },
  extra: RunEventExtra = {},
): Promise<number> {
  if (!isNotifyEvent(event)) return 0;
  const [run] = await tx.select({ notify: runs.notify }).from(runs).where(eq(runs.id, runId));
  const rules = matchingRules(run?.notify ?? null, event);
  if (!run || rules.length === 0) return 0;
  const context = await runNotifyContext(tx, runId, `run.${event}`, event, stage);
  if (!context) return 0;
  Object.assign(context, extra.values ?? {});
  let n = 0;
  for (const rule of rules) {
    const subject = (extra.subjectPrefix ?? "") + (rule.subject ?? DEFAULT_SUBJECT);
    const ids = await enqueueNotification(
      tx,
      { channels: rule.channels, subject, body: rule.body ?? DEFAULT_BODY, context, runId },
      now,
    );
    n += ids.length;
  }
  return n;
}

/**
 * What a run's message templates see: the run, `stage` (or, for a failure, the stage that
 * failed), `status` and the outputs of its stages. Null when the run is gone.
 */
export async function runNotifyContext(
  tx: Tx,
  runId: string,
  event: string,
  status: string,
  stage?: { name: string; state: string },
): Promise<NotifyContext | null> {
  const [run] = await tx
    .select({ id: runs.id, name: runs.name, number: runs.number, state: runs.state, commit: runs.commit })
    .from(runs)
    .where(eq(runs.id, runId));
  if (!run) return null;
  const stageRows = await queryRows<{ name: string; state: string; outputs: StageOutputsRow | string | null }>(
    tx,
    sql`SELECT name, state, outputs FROM stages WHERE run_id = ${runId} ORDER BY position`,
  );
  const outputs: Record<string, Record<string, string>> = {};
  for (const s of stageRows) {
    const o = typeof s.outputs === "string" ? (JSON.parse(s.outputs) as StageOutputsRow) : s.outputs;
    if (o?.values && Object.keys(o.values).length > 0) outputs[s.name] = o.values;
  }
  const failedStage = stageRows.find((s) => s.state === "failed" || s.state === "errored");
  return {
    event,
    status,
    run: { id: run.id, name: run.name, number: run.number, state: run.state, commit: run.commit },
    ...(stage
      ? { stage }
      : failedStage && status !== "succeeded"
        ? { stage: { name: failedStage.name, state: failedStage.state } }
        : {}),
    outputs,
  };
}

/** notifyRunEvent for many runs' moves (a batch of run ends): one read finds the runs that have rules at all. */
export async function notifyRunEvents(tx: Tx, moves: { runId: string; event: string }[], now: Date): Promise<number> {
  const candidates = moves.filter((m) => isNotifyEvent(m.event));
  if (candidates.length === 0) return 0;
  const withRules = await tx
    .select({ id: runs.id })
    .from(runs)
    .where(
      and(
        inArray(
          runs.id,
          candidates.map((m) => m.runId),
        ),
        isNotNull(runs.notify),
      ),
    );
  const ids = new Set(withRules.map((r) => r.id));
  let n = 0;
  for (const m of candidates) if (ids.has(m.runId)) n += await notifyRunEvent(tx, m.runId, m.event, now);
  return n;
}
