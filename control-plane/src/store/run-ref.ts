// What a person may type where a run is meant: its id, a unique prefix of it, or
// PIPELINE#NUMBER. Resolved here only, so the gRPC API (and with it the CLI) and the
// HTTP API accept the same forms and answer with the same errors.
import { and, desc, eq, like } from "drizzle-orm";
import type { Db } from "./db";
import { runs } from "./schema";
import { InvalidError, NotFoundError } from "../errors";

/**
 * Shortest id prefix accepted: 6 hex characters leave 16.7 million choices, plenty to be unique in a farm's history.
 */
export const MIN_RUN_PREFIX = 6;
/** Candidates an ambiguous prefix lists. */
const MAX_CANDIDATES = 10;

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ID_PREFIX = /^[0-9a-f][0-9a-f-]{5,35}$/;
// The pipeline name pattern of @dockyard/pipeline, then `#` and a run number.
const NAME_NUMBER = /^([a-z0-9][a-z0-9._-]{0,62})#(\d{1,9})$/;

export const RUN_REF_FORMS = `a run id, a unique prefix of one (${MIN_RUN_PREFIX} characters or more) or PIPELINE#NUMBER (e.g. deploy#3)`;

/**
 * The id of the run `ref` names. Throws InvalidError for text that is none of the forms
 * (naming them) and for an ambiguous prefix (listing the candidates, newest first, also as
 * `problems`); NotFoundError when no run matches.
 */
export async function resolveRunRef(db: Db, ref: string): Promise<string> {
  const text = ref.trim().toLowerCase();
  const shown = ref.slice(0, 80);
  if (text === "") throw new InvalidError(`a run is required: ${RUN_REF_FORMS}`);
  if (FULL_ID.test(text)) {
    const [row] = await db.select({ id: runs.id }).from(runs).where(eq(runs.id, text));
    if (!row) throw new NotFoundError("run", shown);
    return row.id;
  }
  const named = NAME_NUMBER.exec(text);
  if (named) {
    const [, name, num] = named;
    const [row] = await db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.name, name!), eq(runs.number, Number(num))));
    if (!row) throw new NotFoundError("run", shown, `run not found: pipeline '${name}' has no run #${Number(num)}`);
    return row.id;
  }
  if (ID_PREFIX.test(text)) {
    const rows = await db
      .select({ id: runs.id, name: runs.name, number: runs.number, state: runs.state, createdAt: runs.createdAt })
      .from(runs)
      .where(like(runs.id, `${text}%`))
      .orderBy(desc(runs.createdAt))
      .limit(MAX_CANDIDATES + 1);
    if (rows.length === 0) throw new NotFoundError("run", shown, `run not found: no run id starts with '${text}'`);
    if (rows.length === 1) return rows[0]!.id;
    const listed = rows
      .slice(0, MAX_CANDIDATES)
      .map((r) => `${r.id} ${r.number > 0 ? `${r.name}#${r.number}` : r.name} ${r.state} ${r.createdAt.toISOString()}`);
    const count =
      rows.length > MAX_CANDIDATES
        ? `more than ${MAX_CANDIDATES} runs (the newest ${MAX_CANDIDATES})`
        : `${rows.length} runs`;
    throw new InvalidError(`run id prefix '${text}' is ambiguous; it matches ${count}:\n${listed.join("\n")}`, listed);
  }
  if (/^[0-9a-f-]{1,5}$/.test(text)) {
    throw new InvalidError(
      `run id prefix '${shown}' is too short: give at least ${MIN_RUN_PREFIX} characters of the id, or PIPELINE#NUMBER`,
    );
  }
  throw new InvalidError(`invalid run '${shown}': expected ${RUN_REF_FORMS}`);
}
