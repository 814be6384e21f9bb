// Outputs of a run's succeeded stages (what `${{ stages.X.outputs.Y }}` reads).
import { and, eq } from "drizzle-orm";
import type { Db } from "./db";
import { stages, type StageOutputsRow } from "./schema";

export async function runOutputs(db: Db, runId: string): Promise<Map<string, StageOutputsRow>> {
  const rows = await db
    .select({ name: stages.name, outputs: stages.outputs })
    .from(stages)
    .where(and(eq(stages.runId, runId), eq(stages.state, "succeeded")));
  return new Map(rows.map((r) => [r.name, r.outputs ?? { values: {} }]));
}
