// `dockyard services [list]`, `services history NAME` and `services rollback NAME [REV]`: the
// long-running services update-service stages roll. A rollback while an update holds the
// service switches that update back at once; otherwise it starts a rollback run (printed, so
// `dockyard logs RUN` or `run --watch` can follow it).
import type { Service, ServiceHistoryEntry } from "@dockyard/proto";
import type { RollbackView, ServiceHistoryView, ServiceView } from "@dockyard/web";
import type { Command } from "commander";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { UsageError } from "../errors";
import { renderTable } from "../format/table";
import { localDateTime } from "../format/time";
import { toJsonText } from "../json";

const MAX_REASON = 500;
const isoOf = (ms: bigint) => (ms > 0n ? new Date(Number(ms)).toISOString() : null);

/** The HTTP API's ServiceView, from the wire message. */
export function serviceJson(s: Service): ServiceView {
  return {
    name: s.name,
    revision: s.revision || null,
    previousRevision: s.previousRevision || null,
    image: s.image || null,
    proxyPort: s.proxyPort,
    health: s.health as ServiceView["health"],
    hosts: s.hosts.map((h) => ({
      agent: h.agent,
      agentId: h.agentId,
      expected: h.expected,
      running: h.running,
      others: h.others,
      address: h.address || null,
      healthy: h.healthy,
    })),
    updating: s.updatingRunId ? { runId: s.updatingRunId, run: s.updatingRun, stage: s.updatingStage } : null,
    updatedAt: isoOf(s.updatedAtMs) ?? new Date(0).toISOString(),
  };
}

export function historyJson(h: ServiceHistoryEntry): ServiceHistoryView {
  return {
    revision: h.revision,
    agent: h.agent,
    replicas: h.replicas,
    since: isoOf(h.sinceMs) ?? new Date(0).toISOString(),
    until: isoOf(h.untilMs),
    run: h.run,
    runId: h.runId || null,
    action: h.action as ServiceHistoryView["action"],
    reason: h.reason,
  };
}

export function servicesTable(list: ServiceView[]): string {
  if (list.length === 0) return "no services yet (an update-service stage creates one)\n";
  const rows = list.map((s) => [
    s.name,
    s.revision === null ? "-" : String(s.revision),
    s.image ?? "-",
    s.hosts.map((h) => `${h.agent}=${h.running}/${h.expected}${h.others ? `+${h.others} old` : ""}`).join(" ") || "-",
    s.hosts.map((h) => h.address ?? "-").join(" ") || "-",
    s.health,
    s.updating ? `${s.updating.run}` : "",
  ]);
  return renderTable(["SERVICE", "REV", "IMAGE", "REPLICAS", "ADDRESSES", "HEALTH", "UPDATING"], rows);
}

export function historyTable(list: ServiceHistoryView[]): string {
  if (list.length === 0) return "no history yet\n";
  const rows = list.map((h) => [
    String(h.revision),
    h.agent,
    String(h.replicas),
    localDateTime(Date.parse(h.since)),
    h.until ? localDateTime(Date.parse(h.until)) : "now",
    h.run,
    h.action,
    h.reason,
  ]);
  return renderTable(["REV", "AGENT", "REPLICAS", "FROM", "UNTIL", "RUN", "ACTION", "REASON"], rows);
}

export function registerServiceCommands(program: Command, cli: CliContext): void {
  const services = program
    .command("services")
    .description("long-running services (update-service stages): revision, replicas per host, health");

  services
    .command("list", { isDefault: true })
    .description("each service with its revision, image, replicas per host, addresses and health")
    .option("--json", "print a JSON array of services")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await withClient(cli.clientConfig(cmd), async (client) =>
        (await client.listServices({}, { timeoutMs: CALL_TIMEOUT_MS })).services.map(serviceJson),
      );
      cli.out.write(opts.json ? toJsonText(list) : servicesTable(list));
    });

  services
    .command("history")
    .description("which revision ran on which host, from when to when, started by which run")
    .argument("<name>", "the service")
    .option("--json", "print a JSON array of history entries, newest first")
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const list = await withClient(
        cli.clientConfig(cmd),
        async (client) =>
          (await client.serviceHistory({ name }, { timeoutMs: CALL_TIMEOUT_MS })).entries.map(historyJson),
        { notFound: `service not found: ${name}`, preferServerNotFound: true },
      );
      cli.out.write(opts.json ? toJsonText(list) : historyTable(list));
    });

  services
    .command("rollback")
    .description(
      "roll a service back: an update in progress switches back at once; otherwise a run rolls to REV (default: the previous revision)",
    )
    .argument("<name>", "the service")
    .argument("[revision]", "the revision to roll to (default: the one before the current)")
    .option("-m, --reason <text>", "why (kept in the history and the audit log)", "")
    .option("--json", "print { mode, runId }")
    .action(async (name: string, rev: string | undefined, opts: { reason: string; json?: boolean }, cmd: Command) => {
      const revision = rev === undefined ? 0 : /^\d{1,9}$/.test(rev) ? Number(rev) : NaN;
      if (!Number.isInteger(revision) || (rev !== undefined && revision < 1))
        throw new UsageError(`revision '${String(rev).slice(0, 20)}' must be a whole number from 1`);
      if (opts.reason.length > MAX_REASON)
        throw new UsageError(`--reason is ${opts.reason.length} characters; the limit is ${MAX_REASON}`);
      const answer: RollbackView = await withClient(
        cli.clientConfig(cmd),
        async (client) => {
          const r = await client.rollbackService(
            { name, revision, reason: opts.reason },
            { timeoutMs: CALL_TIMEOUT_MS },
          );
          return { mode: r.mode as RollbackView["mode"], runId: r.runId };
        },
        { notFound: `service not found: ${name}`, preferServerNotFound: true },
      );
      if (opts.json) return void cli.out.write(toJsonText(answer));
      cli.out.write(
        answer.mode === "switch"
          ? `service ${name}: the update in run ${answer.runId} is rolling back\n`
          : `service ${name}: rollback run ${answer.runId} started (dockyard logs ${answer.runId.slice(0, 8)})\n`,
      );
    });
}
