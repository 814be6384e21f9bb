// A rollback, from any entry point (the CLI over gRPC, POST /api/v1/services/NAME/rollback, the
// alert loop): while an update of the service holds it (rolling or in its watch window), a
// signal to that update, which switches every host back to the revision before; otherwise a
// run of its own, one update-service stage rolling to the revision asked for (default: the
// previous one), through the same deploy queue, so it too ends with one revision everywhere.
import { SERVICE_NAME_PATTERN } from "@dockyard/pipeline";
import { queryRows, type Db } from "../store/db";
import { withTx } from "../store/tx";
import { ConflictError, InvalidError, NotFoundError } from "../errors";
import { getService } from "../store/services";
import { holderOf } from "./deploy-queue";
import { sql } from "drizzle-orm";
import type { ServerSignal } from "../stages/kind";
import { countRollback, isRequestClass, REQUEST_CLASSES, type RequestClass } from "./rollback-class";

export const MAX_ROLLBACK_REASON = 500;

export interface RollbackRequest {
  service: string;
  /** Roll to this revision; absent: the one before the current. */
  revision?: number;
  reason: string;
  via: "cli" | "http" | "alertmanager";
  /**
   * Only switch back an update in progress; without one, refuse (ConflictError "not-updating") instead of starting a
   * rollback run (the alert receiver: an alert after the update ended rolls nothing back).
   */
  holderOnly?: boolean;
  /** What asked (dockyard_service_rollbacks_total's `reason`): a person (`requested`, the default) or an alert. */
  reasonClass?: RequestClass;
}

export interface RollbackDeps {
  db: Db;
  /** Signal a server stage (the holding update). */
  signal(runId: string, stage: string, signal: ServerSignal): Promise<void>;
  /** Submit a run of `yaml` as the caller; answers its id. */
  submit(yaml: string): Promise<string>;
  now(): Date;
}

export interface RollbackAnswer {
  /** switch: the update in progress rolls back; run: a rollback run was started. */
  mode: "switch" | "run";
  runId: string;
}

export function checkRollback(req: RollbackRequest): void {
  if (!SERVICE_NAME_PATTERN.test(req.service))
    throw new InvalidError(
      `invalid service '${req.service.slice(0, 64)}': 1-63 of a-z 0-9 - starting with a letter or digit`,
    );
  if (req.revision !== undefined && (!Number.isInteger(req.revision) || req.revision < 1 || req.revision > 2 ** 31 - 1))
    throw new InvalidError(`revision must be a whole number from 1, got ${String(req.revision).slice(0, 20)}`);
  if (req.reasonClass !== undefined && !isRequestClass(req.reasonClass))
    throw new InvalidError(
      `reason class must be one of ${REQUEST_CLASSES.join(", ")}, got '${String(req.reasonClass).slice(0, 20)}'`,
    );
  if (req.reason.length > MAX_ROLLBACK_REASON)
    throw new InvalidError(`reason is ${req.reason.length} characters; the limit is ${MAX_ROLLBACK_REASON}`);
}

export async function requestRollback(
  deps: RollbackDeps,
  req: RollbackRequest,
  who: { user: string; userId?: string; roles: string[] },
): Promise<RollbackAnswer> {
  checkRollback(req);
  const svc = await getService(deps.db, req.service);
  if (!svc) throw new NotFoundError("service", req.service, `service '${req.service}' does not exist`);
  const holder = await withTx(deps.db, (tx) => holderOf(tx, req.service));
  if (holder && req.revision === undefined) {
    const [row] = await queryRows<{ name: string }>(
      deps.db,
      sql`SELECT s.name FROM attempts a JOIN stages s ON s.id = a.stage_id WHERE a.id = ${holder.attemptId}`,
    );
    await deps.signal(holder.runId, row!.name, {
      kind: "rollback",
      by: who.user,
      ...(who.userId && { userId: who.userId }),
      roles: who.roles,
      via: req.via,
      comment: req.reason,
      at: deps.now(),
      reasonClass: req.reasonClass ?? "requested",
    });
    return { mode: "switch", runId: holder.runId };
  }
  if (req.holderOnly) throw new ConflictError(`no update of service '${req.service}' is in progress`, "not-updating");
  const target = req.revision ?? svc.previousRevision;
  if (target === null)
    throw new ConflictError(`service '${req.service}' has no earlier revision to roll back to`, "no-previous");
  if (target === svc.currentRevision && !holder)
    throw new ConflictError(`service '${req.service}' already runs revision ${target}`, "current");
  // JSON is YAML: the pipeline parser reads it as any pipeline file.
  const yaml = JSON.stringify({
    name: `rollback-${req.service}`.slice(0, 63),
    stages: {
      rollback: {
        type: "update-service",
        service: req.service,
        revision: target,
        reason: req.reason || `rollback by ${who.user}`,
      },
    },
  });
  const runId = await deps.submit(yaml);
  // Counted when asked: the run rolls as an ordinary update to that revision, which knows no class.
  await countRollback(deps.db, req.service, req.reasonClass ?? "requested");
  return { mode: "run", runId };
}
