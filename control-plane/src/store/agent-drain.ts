// An admin's drain of an agent (HTTP `POST /agents/:id/drain|undrain`): kept in drain_requested_at, so the
// agent stays draining whatever its heartbeats and registrations say, until undrained. A draining agent
// finishes what it runs and is given nothing new.
import { eq, sql } from "drizzle-orm";
import type { Db } from "./db";
import { withTx } from "./tx";
import { audit, type Actor } from "./audit";
import { agents } from "./schema";
import { ConflictError, NotFoundError } from "../errors";

/**
 * Drain (`drain`) or undrain the agent. Draining a live agent takes effect at once; undraining leaves its state to its
 * next heartbeat (it may be draining on its own, shutting down). NotFoundError, ConflictError for a revoked agent.
 */
export async function requestDrain(
  db: Db,
  agentId: string,
  drain: boolean,
  actor: Actor,
  now: Date,
): Promise<{ name: string; state: string }> {
  return withTx(db, async (tx) => {
    const [row] = await tx
      .select({ name: agents.name, state: agents.state })
      .from(agents)
      .where(eq(agents.id, agentId))
      .for("update");
    if (!row) throw new NotFoundError("agent", agentId);
    if (row.state === "revoked") throw new ConflictError(`agent ${row.name} is revoked`, row.state);
    const [updated] = await tx
      .update(agents)
      .set({
        drainRequestedAt: drain ? now : null,
        ...(drain && { state: sql`CASE WHEN ${agents.state} = 'online' THEN 'draining' ELSE ${agents.state} END` }),
      })
      .where(eq(agents.id, agentId))
      .returning({ name: agents.name, state: agents.state });
    await audit(tx, {
      actor,
      action: drain ? "agent.drained" : "agent.undrained",
      target: agentId,
      details: { name: row.name },
      at: now,
    });
    return updated!;
  });
}
