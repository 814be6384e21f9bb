// `dockyard schedules [list]`, `schedules add NAME --cron EXPR [--tz ZONE] -f FILE [--source DIR]`,
// `schedules rm|pause|resume NAME` and `schedules ticks NAME`: pipelines run on a cron schedule
// as the user who added them. `add` sends the file and its directory as `dockyard run` does.
import { basename } from "node:path";
import { stat } from "node:fs/promises";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Command } from "commander";
import type { ScheduleInfo, ScheduleTick } from "@dockyard/proto";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { CliError, UsageError, isGrpcError } from "../errors";
import { renderTable } from "../format/table";
import { isoOrNull, localDateTime } from "../format/time";
import { toJsonText } from "../json";
import { defaultPipelineName, readPipelineFile, serverProblemsText } from "../pipeline-file";
import { sourceUpload } from "../source-upload";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

function checkName(name: string): string {
  if (!NAME.test(name))
    throw new UsageError(`invalid schedule name '${name.slice(0, 64)}': expected 1-40 of A-Z a-z 0-9 . _ -`);
  return name;
}

export function registerScheduleCommands(program: Command, cli: CliContext): void {
  const schedules = program
    .command("schedules")
    .description("pipelines run on a cron schedule (and continuously while a service they test is updated)");
  schedules
    .command("list", { isDefault: true })
    .description("list schedules: name, cron, zone, next tick, last run, owner")
    .option("--json", "print a JSON array of schedules")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = (await withClient(cli.clientConfig(cmd), (c) => c.listSchedules({}, { timeoutMs: CALL_TIMEOUT_MS })))
        .schedules;
      cli.out.write(opts.json ? toJsonText(list.map(scheduleJson)) : schedulesTable(list, cli.colors.bold));
    });
  schedules
    .command("add")
    .description(
      "add a schedule running the pipeline file -f on --cron (5 fields, or 6 with seconds; 10 s apart at least)",
    )
    .argument("<name>", "schedule name: 1-40 of A-Z a-z 0-9 . _ -")
    .option("--cron <expr>", 'cron expression, e.g. "0 3 * * *" or "*/30 * * * * *"')
    .option("--tz <zone>", "IANA zone the expression is read in (default UTC)")
    .option("-f, --file <file>", "pipeline file (dockyard.yml), at most 1 MiB")
    .option("--source <dir>", "directory sent with every run (default: the file's, as dockyard run sends it)")
    .option("--json", "print the schedule as JSON")
    .action(
      async (
        name: string,
        opts: { cron?: string; tz?: string; file?: string; source?: string; json?: boolean },
        cmd: Command,
      ) => {
        checkName(name);
        if (!opts.cron) throw new UsageError('schedules add needs --cron EXPR, e.g. --cron "0 3 * * *"');
        if (!opts.file) throw new UsageError("schedules add needs -f FILE: the pipeline file to run");
        if (opts.source && !(await stat(opts.source).catch(() => null))?.isDirectory())
          throw new UsageError(`--source ${opts.source} is not a directory`);
        const pipelineYaml = await readPipelineFile(opts.file);
        const upload = await sourceUpload(opts.file, pipelineYaml, opts.source);
        const res = await withClient(cli.clientConfig(cmd), async (c) => {
          try {
            return await c.createSchedule(
              {
                name,
                cron: opts.cron!,
                timezone: opts.tz ?? "",
                pipelineYaml,
                source: `cli:${basename(opts.file!)}`,
                defaultName: defaultPipelineName(opts.file!) ?? "",
                ...upload,
              },
              { timeoutMs: CALL_TIMEOUT_MS },
            );
          } catch (err) {
            // A pipeline's problems come one a line, with their places in the file.
            if (isGrpcError(err) && err.code === GrpcStatus.INVALID_ARGUMENT && err.details.startsWith("pipeline"))
              throw new CliError(serverProblemsText(err.details), 1, { cause: err, verbatim: true });
            throw err;
          }
        });
        const s = res.schedule!;
        cli.out.write(
          opts.json
            ? toJsonText(scheduleJson(s))
            : `added schedule ${s.name} (${s.cron}, ${s.timezone}); next tick ${localDateTime(Number(s.nextAtMs))}\n`,
        );
      },
    );
  schedules
    .command("rm")
    .description("remove a schedule and its ticks (its runs stay)")
    .argument("<name>", "schedule name")
    .option("--json", "print { removed: NAME }")
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      checkName(name);
      await withClient(cli.clientConfig(cmd), (c) => c.deleteSchedule({ name }, { timeoutMs: CALL_TIMEOUT_MS }), {
        notFound: `schedule not found: ${name}`,
      });
      cli.out.write(opts.json ? toJsonText({ removed: name }) : `removed schedule ${name}\n`);
    });
  for (const [verb, enabled] of [
    ["pause", false],
    ["resume", true],
  ] as const) {
    schedules
      .command(verb)
      .description(
        enabled
          ? "resume a paused schedule: it next ticks at its cron's next time (paused ticks are not made up)"
          : "pause a schedule: no ticks until it is resumed",
      )
      .argument("<name>", "schedule name")
      .option("--json", "print the schedule as JSON")
      .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
        checkName(name);
        const res = await withClient(
          cli.clientConfig(cmd),
          (c) => c.setScheduleEnabled({ name, enabled }, { timeoutMs: CALL_TIMEOUT_MS }),
          { notFound: `schedule not found: ${name}` },
        );
        cli.out.write(
          opts.json ? toJsonText(scheduleJson(res.schedule!)) : `${enabled ? "resumed" : "paused"} schedule ${name}\n`,
        );
      });
  }
  schedules
    .command("ticks")
    .description("a schedule's ticks, newest first: the run each made, or why it made none")
    .argument("<name>", "schedule name")
    .option("--limit <n>", "how many (1-500, default 50)")
    .option("--json", "print a JSON array of ticks")
    .action(async (name: string, opts: { limit?: string; json?: boolean }, cmd: Command) => {
      checkName(name);
      const limit = opts.limit === undefined ? 0 : Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 0 || limit > 500)
        throw new UsageError(`invalid --limit '${opts.limit}': expected a whole number from 1 to 500`);
      const { ticks } = await withClient(
        cli.clientConfig(cmd),
        (c) => c.listScheduleTicks({ name, limit }, { timeoutMs: CALL_TIMEOUT_MS }),
        { notFound: `schedule not found: ${name}` },
      );
      cli.out.write(opts.json ? toJsonText(ticks.map(tickJson)) : ticksTable(ticks, cli.colors.bold));
    });
}

export function scheduleJson(s: ScheduleInfo) {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    source: s.source,
    owner: s.owner,
    enabled: s.enabled,
    nextAt: isoOrNull(s.nextAtMs),
    services: s.services,
    lastRun: s.lastRunId ? { id: s.lastRunId, ref: s.lastRunRef, state: s.lastRunState } : null,
    createdAt: isoOrNull(s.createdAtMs),
    updatedAt: isoOrNull(s.updatedAtMs),
  };
}

export function tickJson(t: ScheduleTick) {
  return {
    at: isoOrNull(t.atMs),
    kind: t.kind,
    run: t.runId ? { id: t.runId, ref: t.runRef } : null,
    skipped: t.skipped || null,
    note: t.note || null,
  };
}

function schedulesTable(list: ScheduleInfo[], bold: (s: string) => string): string {
  if (list.length === 0) return "no schedules\n";
  return renderTable(
    ["NAME", "CRON", "ZONE", "STATE", "NEXT", "LAST RUN", "OWNER"],
    list.map((s) => [
      s.name,
      s.cron,
      s.timezone,
      s.enabled ? "enabled" : "paused",
      s.enabled ? localDateTime(Number(s.nextAtMs)) : "-",
      s.lastRunRef ? `${s.lastRunRef} ${s.lastRunState}` : "-",
      s.owner,
    ]),
    { header: bold },
  );
}

function ticksTable(list: ScheduleTick[], bold: (s: string) => string): string {
  if (list.length === 0) return "no ticks yet\n";
  return renderTable(
    ["AT", "KIND", "RUN", "NOTE"],
    list.map((t) => [
      localDateTime(Number(t.atMs)),
      t.kind,
      t.runRef || "skipped",
      [t.skipped, t.note].filter(Boolean).join("; "),
    ]),
    { header: bold },
  );
}
