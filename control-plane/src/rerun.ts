// Re-running a finished run as a new run of the same pipeline file, source and commit: the whole
// run, or (failedOnly) only its stages that did not succeed and everything that depends on them,
// the succeeded ones reused with their outputs (so `${{ stages.X.outputs.Y }}` still resolves).
import { eq } from "drizzle-orm";
import type { Db } from "./store/db";
import { runSources, type StageOutputsRow } from "./store/schema";
import type { RunWithStages } from "./store/runs";
import { audit, type Actor } from "./store/audit";
import { ConflictError } from "./errors";
import { isTerminalRun } from "./domain/states";

/**
 * The stages of `run` a re-run from its failed stages keeps, by name, with their outputs: every pipeline stage that
 * succeeded and needs (transitively) no stage that runs again. Empty for a whole re-run.
 */
export function stagesToReuse(run: RunWithStages, failedOnly: boolean): Map<string, StageOutputsRow | null> {
  const reuse = new Map<string, StageOutputsRow | null>();
  if (!failedOnly) return reuse;
  const own = run.stages.filter((s) => s.parentStageId === null);
  const byName = new Map(own.map((s) => [s.name, s]));
  const again = new Set(own.filter((s) => s.state !== "succeeded").map((s) => s.name));
  // Dependents of a stage that runs again run again (until nothing changes: the DAG is small).
  for (let changed = true; changed;) {
    changed = false;
    for (const s of own) {
      if (!again.has(s.name) && s.needs.some((n) => again.has(n) || !byName.has(n))) {
        again.add(s.name);
        changed = true;
      }
    }
  }
  for (const s of own) if (!again.has(s.name)) reuse.set(s.name, s.outputs ?? null);
  return reuse;
}

/** ConflictError unless `run` can be re-run that way: it has finished, and (failedOnly) some stage did not succeed. */
export function checkRerunnable(run: RunWithStages, failedOnly: boolean, reuse: Map<string, unknown>): void {
  if (!isTerminalRun(run.state)) {
    throw new ConflictError(`run ${run.id} is ${run.state}: only a finished run can be re-run (cancel it first)`);
  }
  const own = run.stages.filter((s) => s.parentStageId === null);
  if (failedOnly && reuse.size === own.length) {
    throw new ConflictError(
      `run ${run.id} ${run.state} with every stage succeeded: nothing failed to re-run (re-run it whole instead)`,
      run.state,
    );
  }
}

/** The directory the CLI uploaded with `runId`, if any. */
export async function uploadedSource(db: Db, runId: string): Promise<Buffer | undefined> {
  const [row] = await db.select({ tar: runSources.tar }).from(runSources).where(eq(runSources.runId, runId));
  return row?.tar;
}

/** Records who re-ran what, and which stages were kept. */
export async function auditRerun(
  db: Db,
  actor: Actor,
  original: RunWithStages,
  rerun: RunWithStages,
  failedOnly: boolean,
  now: Date,
): Promise<void> {
  await audit(db, {
    actor,
    action: "run.rerun",
    target: rerun.id,
    at: now,
    details: {
      from: original.id,
      fromNumber: original.number,
      name: original.name,
      mode: failedOnly ? "failed" : "all",
      reused: rerun.stages.filter((s) => s.reason?.startsWith("reused from run")).map((s) => s.name),
    },
  });
}
