// Outputs of a run's succeeded stages and of those that skipped themselves with outputs
// (an approval's on_timeout: skip writes decision: skipped): what `${{ stages.X.outputs.Y }}` reads.
import { and, eq, isNotNull, or } from "drizzle-orm";
import type { Db } from "./db";
import { stages, type StageOutputsRow } from "./schema";

export async function runOutputs(db: Db, runId: string): Promise<Map<string, StageOutputsRow>> {
  const rows = await db
    .select({ name: stages.name, outputs: stages.outputs })
    .from(stages)
    .where(
      and(
        eq(stages.runId, runId),
        or(eq(stages.state, "succeeded"), and(eq(stages.state, "skipped"), isNotNull(stages.outputs))),
      ),
    );
  return new Map(rows.map((r) => [r.name, r.outputs ?? { values: {} }]));
}
