// Telling a server kind that one of its children ended (`onChildEnded`), exactly once: the
// child's end transaction marked its `server_children` row ended; here a replica takes one such
// row (FOR UPDATE SKIP LOCKED, so replicas never take the same one), locks the parent attempt,
// calls the kind and marks the row delivered, all in one transaction. A crash before the commit
// leaves the row undelivered for the next beat of any replica; after it, the row is done.
import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { parseJson, queryRows, type Tx } from "../store/db";
import type { StageOutputsRow } from "../store/schema";
import type { ServerStageKind } from "./kind";
import { contextFor, lockServerStage, merge, noEffects, type CallEffects } from "./server-context";

/** Deliver one undelivered child end; null when there is none (or all are being delivered elsewhere). */
export async function deliverChildEnd(
  tx: Tx,
  kinds: Record<string, ServerStageKind>,
  now: Date,
  log: Logger,
): Promise<CallEffects | null> {
  const [c] = await queryRows<{ parent_attempt_id: string; key: string; stage_id: string }>(
    tx,
    sql`SELECT parent_attempt_id, key, stage_id FROM server_children WHERE ended_at IS NOT NULL AND delivered_at IS NULL
      ORDER BY ended_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  if (!c) return null;
  await tx.execute(
    sql`UPDATE server_children SET delivered_at = ${now} WHERE parent_attempt_id = ${c.parent_attempt_id} AND key = ${c.key}`,
  );
  const out = noEffects();
  // A parent that ended (it canceled its live children as it did) is told nothing.
  const stage = await lockServerStage(tx, c.parent_attempt_id);
  const kind = stage ? kinds[stage.type] : undefined;
  if (!stage || !kind) return out;
  const [child] = await queryRows<{
    state: string;
    outputs: StageOutputsRow | string | null;
    reason: string | null;
    agent_id: string | null;
  }>(tx, sql`SELECT state, outputs, reason, agent_id FROM stages WHERE id = ${c.stage_id}`);
  if (!child) return out;
  const ended = {
    key: c.key,
    stageId: c.stage_id,
    state: child.state,
    outputs: child.outputs === null ? null : parseJson(child.outputs),
    reason: child.reason ?? "",
    agentId: child.agent_id,
  };
  const ctx = contextFor(tx, stage, now, out);
  if (!kind.onChildEnded) {
    await ctx.finish("errored", `${stage.type} spawned child '${c.key}' but takes no child ends`);
    return out;
  }
  // A kind that fails here ends its attempt as errored (its half-done writes roll back to the savepoint).
  try {
    await tx.transaction(async (sp) => {
      const inner = noEffects();
      await kind.onChildEnded!(stage, ended, contextFor(sp, stage, now, inner));
      Object.assign(out, merge(out, inner));
    });
  } catch (err) {
    log.error({ err, stageId: stage.stageId, type: stage.type, child: c.key }, "server stage child end failed");
    await ctx.finish("errored", `${stage.type} failed on the end of child '${c.key}': ${(err as Error).message}`);
  }
  return out;
}
