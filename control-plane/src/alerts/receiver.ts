// The alert receiver: what the server does with an Alertmanager post. Each alert is stored once
// (fingerprint + startsAt: a resend finds its row and does nothing new; a resolved one updates it).
// A NEW FIRING alert is notified in the transaction that stores it (alert-notify.ts), then, when its
// labels name a service an update holds, rolls that update back through the rollback entry point
// (services-api.ts), as the actor `alertmanager`. The row records what was done, or why not.
import { Counter, type Registry } from "prom-client";
import type { Logger } from "pino";
import type { AlertmanagerAlert, AlertmanagerPayload, AlertReceipt } from "@dockyard/web";
import type { Db } from "../store/db";
import { withTx } from "../store/tx";
import type { Clock } from "../clock";
import { DockyardError } from "../errors";
import type { ServicesApi } from "../services/services-api";
import { MAX_ROLLBACK_REASON } from "../services/rollback";
import { insertAlert, recordActions, resolveAlert, type NewAlert } from "./alert-store";
import { pipelineRunFor, updateInProgress } from "./alert-targets";
import { notifyAlert } from "./alert-notify";

export interface AlertReceiverDeps {
  db: Db;
  clock: Clock;
  services: Pick<ServicesApi, "rollback">;
  /** DOCKYARD_ALERT_CHANNELS: every new firing alert goes there too. */
  farmChannels: readonly string[];
  registry: Registry;
  /** Wake the outbox worker after a commit that enqueued messages. */
  kickNotify(): void;
  log: Logger;
}

/** Who the audit log names for a rollback an alert caused (no user: no id, no roles). */
const ALERTMANAGER = { userId: "", user: "alertmanager", roles: [] as string[] };
// Go's zero time.Time: Alertmanager's "no end known".
const ZERO_TIME_BEFORE = Date.UTC(1970, 0, 1);
const MAX_LABEL_VALUE = 128;

export function toNewAlert(a: AlertmanagerAlert): NewAlert {
  const ends = new Date(a.endsAt);
  return {
    fingerprint: a.fingerprint,
    startsAt: new Date(a.startsAt),
    endsAt: ends.getTime() <= ZERO_TIME_BEFORE ? null : ends,
    status: a.status,
    alertname: a.labels.alertname!,
    labels: a.labels,
    annotations: a.annotations,
  };
}

export class AlertReceiver {
  private readonly received: Counter<"alertname">;

  constructor(private readonly deps: AlertReceiverDeps) {
    this.received = new Counter({
      name: "dockyard_alerts_received_total",
      help: "Alerts Alertmanager posted to this replica (resends included), by alertname",
      labelNames: ["alertname"],
      registers: [deps.registry],
    });
  }

  async receive(payload: AlertmanagerPayload): Promise<AlertReceipt> {
    const receipt: AlertReceipt = { received: payload.alerts.length, stored: 0, resolved: 0, repeated: 0 };
    let enqueued = false;
    for (const raw of payload.alerts) {
      const a = toNewAlert(raw);
      this.received.inc({ alertname: a.alertname.slice(0, MAX_LABEL_VALUE) });
      const outcome = await withTx(this.deps.db, async (tx) => {
        const now = this.deps.clock.now();
        if (!(await insertAlert(tx, a, now))) {
          const resolved = a.status === "resolved" && (await resolveAlert(tx, a, now));
          return resolved ? "resolved" : "repeated";
        }
        if (a.status !== "firing") return "stored";
        const pipelineRunId = await pipelineRunFor(tx, a.labels);
        const notified = await notifyAlert(tx, a, pipelineRunId, this.deps.farmChannels, now);
        await recordActions(tx, a, { notified, pipelineRunId });
        if (notified.length > 0) enqueued = true;
        return "firing";
      });
      if (outcome === "resolved") receipt.resolved++;
      else if (outcome === "repeated") receipt.repeated++;
      else receipt.stored++;
      // A resolved alert never rolls back; a resend already acted (or not) the first time.
      if (outcome === "firing" && a.labels.service) await this.rollBack(a);
    }
    if (enqueued) this.deps.kickNotify();
    return receipt;
  }

  /** Roll back the update holding the alert's service, or record why not. */
  private async rollBack(a: NewAlert): Promise<void> {
    const service = a.labels.service!;
    const summary = a.annotations.summary ?? a.annotations.description ?? "";
    const reason = `alert ${a.alertname}${summary ? `: ${summary}` : ""}`.slice(0, MAX_ROLLBACK_REASON);
    try {
      const update = await withTx(this.deps.db, (tx) => updateInProgress(tx, service));
      if (!update || (update.phase !== "rolling" && update.phase !== "watching")) {
        const why = update
          ? `the update of service '${service}' (run ${update.runId}) is ${update.phase}, not rolling or watching`
          : `no update of service '${service}' is in progress`;
        return await recordActions(this.deps.db, a, { noRollback: why });
      }
      // holderOnly: if the update ended meanwhile, the entry point refuses rather than starting a rollback run.
      const answer = await this.deps.services.rollback(
        service,
        { reason, via: "alertmanager", holderOnly: true, reasonClass: "alert" },
        ALERTMANAGER,
      );
      this.deps.log.info({ service, alertname: a.alertname, run: answer.runId }, "alert rolled back an update");
      await recordActions(this.deps.db, a, {
        rollback: { runId: answer.runId, service, mode: answer.mode, revision: update.revision },
      });
    } catch (err) {
      const why = err instanceof DockyardError ? err.message : `rollback failed: ${(err as Error).message}`;
      if (!(err instanceof DockyardError)) this.deps.log.error({ err, service }, "alert rollback failed");
      await recordActions(this.deps.db, a, { noRollback: why.slice(0, 500) }).catch(() => {});
    }
  }
}
