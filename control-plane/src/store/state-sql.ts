// The domain's state lists as SQL fragments, so statements never spell a list
// of their own (domain/states.ts is the one place the lists exist).
import { sql } from "drizzle-orm";
import { ACTIVE_ATTEMPT_STATES, UNSUCCESSFUL_STAGE_STATES } from "../domain/states";

const list = (states: readonly string[]) => sql.raw(`(${states.map((s) => `'${s.replace(/'/g, "''")}'`).join(", ")})`);

/** `('assigned', 'running')`: an attempt that holds a slot and a lease. */
export const ACTIVE_ATTEMPTS_SQL = list(ACTIVE_ATTEMPT_STATES);
/** Ends of a stage that skip its dependents. */
export const UNSUCCESSFUL_STAGES_SQL = list(UNSUCCESSFUL_STAGE_STATES);
/** For `inArray` and `.includes`. */
export const ACTIVE_ATTEMPTS: string[] = [...ACTIVE_ATTEMPT_STATES];
