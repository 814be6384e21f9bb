// `dockyard runs`: filters, pages and the run table.
import type { Run } from "@dockyard/proto";
import { InvalidArgumentError, type Command } from "commander";
import {
  DEFAULT_RUNS_LIMIT,
  MAX_RUNS_LIMIT,
  isRunListParamError,
  parseRunListParams,
  type RunListParam,
} from "@dockyard/web";
import { parseLimit, parseRunState, RUN_STATES } from "../args";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { renderTable } from "../format/table";
import { formatDuration, localDateTime } from "../format/time";
import { UsageError } from "../errors";
import { runJson, toJsonText } from "../json";
import { colorState } from "../watch/status-format";
import type { Colors } from "../watch/status-format";

/** Registers `runs`. */
export function registerListCommands(program: Command, cli: CliContext): void {
  program
    .command("runs")
    .description(
      "list runs, newest first, a page at a time (the filters and cursor of GET /api/v1/runs); --all walks every page",
    )
    .option("-n, --limit <n>", `how many runs a page (1-${MAX_RUNS_LIMIT})`, parseLimit, DEFAULT_RUNS_LIMIT)
    .option("--state <state>", `only runs in this state (${RUN_STATES.join("|")})`, parseRunState)
    .option("--pipeline <name>", "only runs of this pipeline (the run's name, exact)", listFlag("pipeline"))
    .option("--branch <branch>", "only runs a git push of this branch started (exact name)", parseBranch)
    .option(
      "--since <time>",
      "only runs created at or after: ISO-8601 with a zone, or an age (30m, 24h, 7d)",
      timeFlag("since"),
    )
    .option(
      "--until <time>",
      "only runs created before: ISO-8601 with a zone, or an age (30m, 24h, 7d)",
      timeFlag("until"),
    )
    .option("--cursor <cursor>", "the page after the one that printed this cursor (on stderr)", listFlag("cursor"))
    .option("--all", "every page, not only the first")
    .option("--json", "print a JSON array of runs (the objects GET /api/v1/runs answers)")
    .action(async (opts: RunsOptions, cmd: Command) => {
      const request = listRequest(opts);
      const { runs, nextCursor } = await withClient(cli.clientConfig(cmd), async (client) => {
        const all: Run[] = [];
        let cursor = request.cursor;
        for (;;) {
          const res = await client.listRuns({ ...request, cursor }, { timeoutMs: CALL_TIMEOUT_MS });
          all.push(...res.runs);
          if (!opts.all || res.nextCursor === "") return { runs: all, nextCursor: res.nextCursor };
          cursor = res.nextCursor;
        }
      });
      cli.out.write(opts.json ? toJsonText(runs.map(runJson)) : runsTable(runs, Date.now(), cli.colors));
      // On stderr, so that stdout stays the list (a JSON array with --json).
      if (nextCursor !== "") cli.err.write(`more runs: add --cursor ${nextCursor} (or --all)\n`);
    });
}

/** The `runs` table; unfinished runs show their time so far. */
export function runsTable(runs: Run[], nowMs: number, c: Colors): string {
  if (runs.length === 0) return "no runs\n";
  // Runs that git pushes started show their branch and commit (the columns appear only then).
  const pushed = runs.some((r) => r.branch !== "");
  const rows = runs.map((r) => {
    const created = Number(r.createdAtMs);
    const finished = Number(r.finishedAtMs);
    const duration = created > 0 ? formatDuration((finished > 0 ? finished : nowMs) - created) : "-";
    const base = [r.id, r.name, r.state, localDateTime(created), duration];
    return pushed ? [...base, r.branch || "-", r.commit ? r.commit.slice(0, 12) : "-"] : base;
  });
  const headers = ["ID", "NAME", "STATE", "CREATED", "DURATION"];
  const table = renderTable(pushed ? [...headers, "BRANCH", "COMMIT"] : headers, rows, {
    header: c.bold,
    cell: (text, col) => (col === 2 ? colorState(text, c) : text),
  });
  // Runs that wait for a person say so under the table: who may decide, until when, how.
  const waiting = runs.flatMap((r) =>
    r.stages
      .filter((s) => s.state === "running" && s.reason.startsWith("waiting for approval"))
      .map((s) => `${r.id.slice(0, 8)} ${c.bold(s.name)}: ${s.reason}\n`),
  );
  return waiting.length > 0 ? `${table}\n${waiting.join("")}` : table;
}

/** `--branch`: a branch name as pushed (no refs/heads/), at most 255 characters. */
function parseBranch(text: string): string {
  if (text === "" || text.length > 255 || /[\s\x00-\x1f\x7f]/.test(text))
    throw new InvalidArgumentError(
      `invalid --branch '${text.slice(0, 32)}': a branch name (main, release/v1), no spaces`,
    );
  return text.replace(/^refs\/heads\//, "");
}

interface RunsOptions {
  limit: number;
  state?: string;
  pipeline?: string;
  branch?: string;
  since?: string;
  until?: string;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

/**
 * A flag checked by the server's own check of that list parameter (parseRunListParams, shared with
 * GET /api/v1/runs and gRPC ListRuns), so the CLI refuses what the server would, with its words.
 */
function listFlag(param: RunListParam): (text: string) => string {
  return (text) => {
    try {
      parseRunListParams({ [param]: text });
    } catch (err) {
      if (isRunListParamError(err)) throw new InvalidArgumentError(err.message);
      throw err;
    }
    return text;
  };
}

const AGE = /^(\d{1,6})(m|h|d)$/;
const AGE_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** --since/--until: an ISO-8601 time with a zone, or an age (`24h`: 24 hours ago), sent as ISO-8601. */
function timeFlag(param: "since" | "until"): (text: string) => string {
  const check = listFlag(param);
  return (text) => {
    const age = AGE.exec(text);
    if (!age) return check(text);
    return new Date(Date.now() - Number(age[1]) * AGE_MS[age[2] as keyof typeof AGE_MS]).toISOString();
  };
}

/** The ListRuns request of the flags; what only holds for them together (until after since) is checked here. */
function listRequest(opts: RunsOptions) {
  const request = {
    limit: opts.limit,
    state: opts.state ?? "",
    pipeline: opts.pipeline ?? "",
    branch: opts.branch ?? "",
    since: opts.since ?? "",
    until: opts.until ?? "",
    cursor: opts.cursor ?? "",
  };
  try {
    parseRunListParams({ ...request, limit: String(request.limit) });
  } catch (err) {
    if (isRunListParamError(err)) throw new UsageError(`--${err.field}: ${err.message}`);
    throw err;
  }
  return request;
}
