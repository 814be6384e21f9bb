// What a heartbeat reports beyond liveness: the workspaces the agent holds and its whole
// resource inventory (environments). Checked first (a bad report refuses the heartbeat,
// naming the field), then stored; the answer names the runs among them that ended, with
// their final state, so the agent releases what it holds even when a NATS notice was lost.
import { HELD_RESOURCE_LIMITS, heldResourceProblem, type HeartbeatRequest } from "@dockyard/proto";
import type { Db } from "../../store/db";
import { endedRuns, syncResources, type ReportedResource } from "../../store/resources";
import { countWorkspaces, type WorkspaceReport } from "../../store/workspaces";
import { DockyardError } from "../../errors";

/** How many workspaces one heartbeat may list per field (the agent sends at most this many). */
const MAX_REPORTED_WORKSPACES = 500;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Inventory {
  workspaces: WorkspaceReport;
  resources: ReportedResource[];
}

/** The run ids of a heartbeat field, or `invalid` naming the field and the offending entry. */
function checkRunIds(field: string, ids: string[]): string[] {
  if (ids.length > MAX_REPORTED_WORKSPACES)
    throw new DockyardError("invalid", `${field} lists ${ids.length} runs; at most ${MAX_REPORTED_WORKSPACES}`);
  const bad = ids.find((id) => !RUN_ID.test(id));
  if (bad !== undefined)
    throw new DockyardError(
      "invalid",
      `${field} holds ${JSON.stringify(bad.slice(0, 80))}, which is not a run id (a UUID)`,
    );
  return ids;
}

const msDate = (ms: bigint): Date | null => (ms > 0n && ms < 8_640_000_000_000_000n ? new Date(Number(ms)) : null);

function checkResources(list: HeartbeatRequest["resources"]): ReportedResource[] {
  if (list.length > HELD_RESOURCE_LIMITS.resources) {
    throw new DockyardError(
      "invalid",
      `resources lists ${list.length} entries; at most ${HELD_RESOURCE_LIMITS.resources}`,
    );
  }
  const seen = new Set<string>();
  return list.map((r, i) => {
    const problem = heldResourceProblem(r);
    if (problem) throw new DockyardError("invalid", `resources[${i}]: ${problem}`);
    const key = `${r.kind}:${r.id}`;
    if (seen.has(key))
      throw new DockyardError("invalid", `resources[${i}]: ${r.kind} ${JSON.stringify(r.id)} is listed twice`);
    seen.add(key);
    return {
      kind: r.kind,
      id: r.id,
      runId: r.runId || null,
      createdAt: msDate(r.createdAtMs),
      expiresAt: msDate(r.expiresAtMs),
      attributes: r.attributes,
    };
  });
}

/** The heartbeat's inventory, or `invalid` naming what is wrong with it. */
export function checkInventory(req: HeartbeatRequest): Inventory {
  return {
    workspaces: {
      own: checkRunIds("workspace_run_ids", req.workspaceRunIds),
      foreign: checkRunIds("foreign_workspace_run_ids", req.foreignWorkspaceRunIds),
    },
    resources: checkResources(req.resources),
  };
}

/** Store the inventory; answer the runs among it that ended. */
export async function reconcileInventory(
  db: Db,
  agentId: string,
  inv: Inventory,
  now: Date,
): Promise<{ runId: string; state: string }[]> {
  const runIds = [
    ...inv.workspaces.own,
    ...inv.workspaces.foreign,
    ...inv.resources.flatMap((r) => (r.runId ? [r.runId] : [])),
  ];
  const ended = await endedRuns(db, runIds);
  await Promise.all([
    countWorkspaces(db, agentId, inv.workspaces, ended, now),
    syncResources(db, agentId, inv.resources),
  ]);
  return ended.map((r) => ({ runId: r.id, state: r.state }));
}
