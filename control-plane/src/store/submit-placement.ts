// A submit places its own run's first stages in its own transaction, so the first
// stage is on an agent when the submit commits. When nothing else is queued (the
// usual case when a farm has room), the statement that inserts the run also reads
// the online agents and takes the locks of those with a free slot: two statements
// then place the run's ready stages (insert + read, placement). When other stages
// already wait, a full claim pass runs instead, so the new run does not jump the
// queue: runs take turns there.
import { sql, type SQL } from "drizzle-orm";
import { parseJson, queryRows, type Tx } from "./db";
import {
  chooseAgents,
  claimAndPlaceTx,
  onlineAgentsCte,
  placeAttempts,
  toCandidates,
  type OnlineAgentRow,
  type Placed,
  type QueuedStageRow,
} from "./claims";

/**
 * Run `insertCtes` (data-modifying CTEs that write the run) and place `ready` (its queued
 * stages, in order) or, when other stages wait, what a claim pass of `limit` places.
 */
export async function insertAndPlace(
  tx: Tx,
  insertCtes: SQL,
  ready: QueuedStageRow[],
  limit: number,
  now: Date,
  leaseTtlMs: number,
): Promise<Placed> {
  // The new run's stages are not visible to this statement (same snapshot): `waiting` is about others.
  const rows = await queryRows<{ kind: "agent" | "waiting"; row: OnlineAgentRow | string | null }>(
    tx,
    sql`
    WITH ${insertCtes}, ${onlineAgentsCte(true, now, leaseTtlMs)}
    SELECT 'agent' AS kind, to_jsonb(o) AS row FROM online o
    UNION ALL
    SELECT 'waiting', NULL WHERE EXISTS (SELECT 1 FROM stages WHERE state = 'queued')`,
  );
  if (rows.some((r) => r.kind === "waiting")) return claimAndPlaceTx(tx, limit, now, leaseTtlMs);
  const online = rows.filter((r) => r.kind === "agent").map((r) => parseJson(r.row as OnlineAgentRow | string));
  const placements = await chooseAgents(tx, toCandidates(online), ready.slice(0, limit), now, leaseTtlMs);
  if (placements.length === 0) return { placements, events: [] };
  return placeAttempts(tx, placements, now);
}
