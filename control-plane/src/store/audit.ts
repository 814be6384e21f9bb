// The audit log: appended to inside the transaction of the change it records, so an entry
// exists exactly when the change committed. Nothing here updates or deletes (a trigger refuses both).
import { desc, lt } from "drizzle-orm";
import { DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from "@dockyard/web";
import type { Db, Tx } from "./db";
import { auditLog } from "./schema";
import { InvalidError } from "../errors";

/** Who acted: a user (by id and name), an agent, or the server itself. */
export type Actor =
  | { kind: "user"; userId: string; name: string }
  | { kind: "agent"; agentId: string; name: string }
  | { kind: "server"; name?: string };

export const SERVER_ACTOR: Actor = { kind: "server" };
/** The server acting on an alert Alertmanager sent (a rollback): named so the audit log says why. */
export const ALERTMANAGER_ACTOR: Actor = { kind: "server", name: "alertmanager" };

export interface AuditEntry {
  actor: Actor;
  /** Dotted verb: token.created, user.disabled, secret.set, agent.revoked, run.started, approval.decided, ... */
  action: string;
  target: string;
  details?: Record<string, unknown>;
  at: Date;
}

export function actorName(a: Actor): string {
  return a.kind === "user" ? a.name : a.kind === "agent" ? `agent:${a.name}` : (a.name ?? "server");
}

/** Append one entry; call it with the transaction (or db) that makes the change. */
export async function audit(tx: Tx | Db, e: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({
    at: e.at,
    actorUserId: e.actor.kind === "user" ? e.actor.userId : null,
    actorAgentId: e.actor.kind === "agent" ? e.actor.agentId : null,
    actor: actorName(e.actor),
    action: e.action,
    target: e.target.slice(0, 200),
    details: e.details ?? {},
  });
}

export interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  action: string;
  target: string;
  details: Record<string, unknown>;
}

export { MAX_AUDIT_LIMIT };

/**
 * What ListAudit and `GET /api/v1/audit` answer: `limit` (0 or unset: DEFAULT_AUDIT_LIMIT, at most
 * MAX_AUDIT_LIMIT) of the newest entries, before entry `beforeId` when given (0 or unset: from the newest).
 */
export async function auditPage(db: Db, opts: { limit?: number; beforeId?: number }): Promise<AuditRow[]> {
  const limit = opts.limit || DEFAULT_AUDIT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
    throw new InvalidError(
      `invalid limit ${String(limit).slice(0, 32)}: expected a whole number from 1 to ${MAX_AUDIT_LIMIT}`,
    );
  }
  const before = opts.beforeId === 0 ? undefined : opts.beforeId;
  if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) {
    throw new InvalidError(
      `invalid before ${String(before).slice(0, 32)}: expected an audit entry id (a whole number from 1)`,
    );
  }
  return readAudit(db, limit, before);
}

/** The newest `limit` entries, oldest first (as a log reads); `beforeId` pages further back. */
export async function readAudit(db: Db, limit: number, beforeId?: number): Promise<AuditRow[]> {
  const rows = await db
    .select({
      id: auditLog.id,
      at: auditLog.at,
      actor: auditLog.actor,
      action: auditLog.action,
      target: auditLog.target,
      details: auditLog.details,
    })
    .from(auditLog)
    .where(beforeId ? lt(auditLog.id, beforeId) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(limit);
  return rows.reverse();
}
