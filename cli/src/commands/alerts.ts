// `dockyard alerts [--state firing|resolved] [--limit N] [--json]`: the alerts Alertmanager posted
// to the server, newest first, with what the server did about each (channels notified, the update
// rolled back, or why not). `--json` prints the HTTP API's AlertView shapes.
import type { Alert } from "@dockyard/proto";
import type { AlertView } from "@dockyard/web";
import { ALERT_STATES, DEFAULT_ALERTS_LIMIT, MAX_ALERTS_LIMIT } from "@dockyard/web";
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { UsageError } from "../errors";
import { renderTable } from "../format/table";
import { localDateTime } from "../format/time";
import { toJsonText } from "../json";

const isoOf = (ms: bigint) => (ms > 0n ? new Date(Number(ms)).toISOString() : null);

/** The HTTP API's AlertView, from the wire message. */
export function alertJson(a: Alert): AlertView {
  return {
    fingerprint: a.fingerprint,
    alertname: a.alertname,
    status: a.status,
    startsAt: isoOf(a.startsAtMs) ?? new Date(0).toISOString(),
    endsAt: isoOf(a.endsAtMs),
    labels: { ...a.labels },
    annotations: { ...a.annotations },
    summary: a.annotations.summary ?? null,
    receivedAt: isoOf(a.receivedAtMs) ?? new Date(0).toISOString(),
    resolvedAt: isoOf(a.resolvedAtMs),
    notified: [...a.notified],
    pipelineRunId: a.pipelineRunId || null,
    rollback: a.rollbackRunId
      ? {
          runId: a.rollbackRunId,
          service: a.rollbackService,
          mode: a.rollbackMode,
          revision: a.rollbackRevision || null,
        }
      : null,
    noRollback: a.noRollback || null,
  };
}

/** What the server did, in one cell: `rolled back svc (run R)`, `no rollback: why`, or `-`. */
function actionText(a: AlertView): string {
  if (a.rollback) return `rolled back ${a.rollback.service} (run ${a.rollback.runId})`;
  if (a.noRollback) return `no rollback: ${a.noRollback}`;
  return "-";
}

export function alertsTable(list: AlertView[]): string {
  if (list.length === 0) return "no alerts\n";
  const rows = list.map((a) => [
    a.alertname,
    a.status,
    localDateTime(Date.parse(a.startsAt)),
    Object.entries(a.labels)
      .filter(([k]) => k !== "alertname")
      .map(([k, v]) => `${k}=${v}`)
      .join(" ") || "-",
    a.summary ?? "-",
    a.notified.join(",") || "-",
    actionText(a),
  ]);
  return renderTable(["ALERT", "STATE", "STARTED", "LABELS", "SUMMARY", "NOTIFIED", "ACTION"], rows);
}

export function registerAlertCommands(program: Command, cli: CliContext): void {
  program
    .command("alerts")
    .description("alerts Alertmanager sent the server, newest first, and what the server did about each")
    .option("--state <state>", `only ${ALERT_STATES.join(" or ")} alerts`)
    .option("--limit <n>", `how many (1-${MAX_ALERTS_LIMIT})`, String(DEFAULT_ALERTS_LIMIT))
    .option("--json", "print a JSON array of alerts")
    .action(async (opts: { state?: string; limit: string; json?: boolean }, cmd: Command) => {
      if (opts.state !== undefined && !(ALERT_STATES as readonly string[]).includes(opts.state))
        throw new UsageError(`--state must be ${ALERT_STATES.join(" or ")}, got '${opts.state.slice(0, 32)}'`);
      const limit = /^\d{1,6}$/.test(opts.limit) ? Number(opts.limit) : NaN;
      if (!(limit >= 1 && limit <= MAX_ALERTS_LIMIT)) throw new UsageError(`--limit must be 1-${MAX_ALERTS_LIMIT}`);
      const list = await withClient(cli.clientConfig(cmd), async (client) =>
        (await client.listAlerts({ state: opts.state ?? "", limit }, { timeoutMs: CALL_TIMEOUT_MS })).alerts.map(
          alertJson,
        ),
      );
      cli.out.write(opts.json ? toJsonText(list) : alertsTable(list));
    });
}
