// Run workspaces the agents report holding (shell directories, run sources, Docker
// volumes): how many each agent holds, live or leaked (dockyard_workspaces). Which of their
// runs ended is answered with the resources' (resources.ts endedRuns), so the agent removes
// them even when the NATS run-ended notice was lost.
import { and, eq, ne, or } from "drizzle-orm";
import type { Db } from "./db";
import { agents } from "./schema";

/** A workspace still reported this long after its run ended counts as leaked (its removal keeps failing). */
export const WORKSPACE_LEAK_AFTER_MS = 60_000;

/** What one heartbeat says about workspaces (run ids, checked by the caller). */
export interface WorkspaceReport {
  /** The agent's own: counted in the metric. */
  own: string[];
  /** Volumes other agents left on its engine: only reaped, not counted (every agent on the engine reports them). */
  foreign: string[];
}

/**
 * The agent's live/leaked workspace counts stored, from the reported runs and those of
 * them that ended. A run this farm does not know is not "ended": an engine shared with
 * another farm holds that farm's volumes, which are not ours to remove.
 */
export async function countWorkspaces(
  db: Db,
  agentId: string,
  report: WorkspaceReport,
  ended: { id: string; finishedAt: Date }[],
  now: Date,
): Promise<void> {
  const own = new Set(report.own);
  const leakedBefore = now.getTime() - WORKSPACE_LEAK_AFTER_MS;
  const leaked = ended.filter((r) => own.has(r.id) && r.finishedAt.getTime() < leakedBefore).length;
  const live = own.size - leaked;
  // Written only when a count changed: most heartbeats report the same workspaces.
  await db
    .update(agents)
    .set({ workspacesLive: live, workspacesLeaked: leaked })
    .where(and(eq(agents.id, agentId), or(ne(agents.workspacesLive, live), ne(agents.workspacesLeaked, leaked))));
}
