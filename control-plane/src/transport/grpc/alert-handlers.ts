// RunService's ListAlerts (`dockyard alerts`): the alerts Alertmanager posted, newest first, with
// what the server did about each; the same rows and checks as GET /api/v1/alerts.
import type { Logger } from "pino";
import { create, AlertSchema, ListAlertsResponseSchema, type RunService, type ServiceHandlers } from "@dockyard/proto";
import { ALERT_STATES, DEFAULT_ALERTS_LIMIT, MAX_ALERTS_LIMIT, type AlertView } from "@dockyard/web";
import type { Db } from "../../store/db";
import { InvalidError } from "../../errors";
import { alertView, listAlerts } from "../../alerts/alert-store";
import { userUnary } from "./user-unary";

type All = ServiceHandlers<(typeof RunService)["method"]>;
export type AlertHandlers = Pick<All, "listAlerts">;

const ms = (iso: string | null) => BigInt(iso ? Date.parse(iso) : 0);

export function toAlert(a: AlertView) {
  return create(AlertSchema, {
    fingerprint: a.fingerprint,
    alertname: a.alertname,
    status: a.status,
    startsAtMs: ms(a.startsAt),
    endsAtMs: ms(a.endsAt),
    labels: a.labels,
    annotations: a.annotations,
    receivedAtMs: ms(a.receivedAt),
    resolvedAtMs: ms(a.resolvedAt),
    notified: a.notified,
    pipelineRunId: a.pipelineRunId ?? "",
    rollbackRunId: a.rollback?.runId ?? "",
    rollbackService: a.rollback?.service ?? "",
    rollbackMode: a.rollback?.mode ?? "",
    rollbackRevision: a.rollback?.revision ?? 0,
    noRollback: a.noRollback ?? "",
  });
}

export function alertHandlers(db: Db, log: Logger): AlertHandlers {
  const unary = userUnary(log);
  return {
    listAlerts: unary(async (req) => {
      if (req.state && !(ALERT_STATES as readonly string[]).includes(req.state))
        throw new InvalidError(`invalid state '${req.state.slice(0, 32)}': expected one of ${ALERT_STATES.join(", ")}`);
      if (req.limit > MAX_ALERTS_LIMIT)
        throw new InvalidError(`limit ${req.limit} is over the maximum of ${MAX_ALERTS_LIMIT}`);
      const rows = await listAlerts(db, { state: req.state || undefined, limit: req.limit || DEFAULT_ALERTS_LIMIT });
      return create(ListAlertsResponseSchema, { alerts: rows.map((r) => toAlert(alertView(r))) });
    }),
  };
}
