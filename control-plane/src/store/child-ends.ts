// The one write an end makes for a server stage's child (stages/server-children.ts): its parent
// is to be told. Called only for stages with a parent, so the ordinary end pays nothing for it.
import { sql } from "drizzle-orm";
import type { Tx } from "./db";

/** In the child's end transaction: `server_children.ended_at`, which the server runner delivers to the parent. */
export async function markChildEnded(tx: Tx, stageIds: string[], now: Date): Promise<void> {
  if (stageIds.length === 0) return;
  await tx.execute(
    sql`UPDATE server_children SET ended_at = ${now} WHERE ended_at IS NULL AND stage_id IN (${sql.join(
      stageIds.map((id) => sql`${id}`),
      sql`, `,
    )})`,
  );
}
