// The domain's state lists as SQL fragments, so statements never spell a list
// of their own (domain/states.ts is the one place the lists exist).
import { sql } from "drizzle-orm";
import { ACTIVE_ATTEMPT_STATES, UNSUCCESSFUL_STAGE_STATES } from "../domain/states";

const list = (states: readonly string[]) => sql.raw(`(${states.map((s) => `'${s.replace(/'/g, "''")}'`).join(", ")})`);

/** `('assigned', 'running')`: an attempt that holds a slot and a lease. */
export const ACTIVE_ATTEMPTS_SQL = list(ACTIVE_ATTEMPT_STATES);
/** Ends of a stage that skip its dependents. */
export const UNSUCCESSFUL_STAGES_SQL = list(UNSUCCESSFUL_STAGE_STATES);
/** The same but `skipped`: ends that fail (the dependents' skip reason says which). */
export const FAILED_STAGES_SQL = list(UNSUCCESSFUL_STAGE_STATES.filter((s) => s !== "skipped"));
/**
 * A need `d`, through its edge `e`, that lets its dependent go: it succeeded, or it skipped
 * itself and the dependent wrote `{ stage: d, if_skipped: continue }`. A stage skips itself
 * after it ran (an approval's `on_timeout: skip`: attempts > 0); one skipped for want of its
 * own needs never ran (attempts = 0) and stops its dependents whatever they say.
 */
export const NEED_MET_SQL = sql.raw(
  `(d.state = 'succeeded' OR (d.state = 'skipped' AND d.attempts > 0 AND e.continue_if_skipped))`,
);
/** For `inArray` and `.includes`. */
export const ACTIVE_ATTEMPTS: string[] = [...ACTIVE_ATTEMPT_STATES];
