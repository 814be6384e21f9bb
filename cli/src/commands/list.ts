// `dockyard runs` and `dockyard agents`.
import type { Agent, Run } from "@dockyard/proto";
import { InvalidArgumentError, type Command } from "commander";
import { DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT } from "@dockyard/web";
import { parseLimit, parseRunState, RUN_STATES } from "../args";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { renderTable } from "../format/table";
import { formatAge, formatDuration, localDateTime } from "../format/time";
import { agentJson, runJson, toJsonText } from "../json";
import { colorState } from "../watch/status-format";
import type { Colors } from "../watch/status-format";

/** Registers `runs` and `agents`. */
export function registerListCommands(program: Command, cli: CliContext): void {
  program
    .command("runs")
    .description("list recent runs, newest first")
    .option("-n, --limit <n>", `how many runs (1-${MAX_RUNS_LIMIT})`, parseLimit, DEFAULT_RUNS_LIMIT)
    .option("--state <state>", `only runs in this state (${RUN_STATES.join("|")})`, parseRunState)
    .option("--branch <branch>", "only runs a git push of this branch started (exact name)", parseBranch)
    .option("--json", "print a JSON array of runs")
    .action(async (opts: { limit: number; state?: string; branch?: string; json?: boolean }, cmd: Command) => {
      const runs = await withClient(cli.clientConfig(cmd), async (client) => {
        const res = await client.listRuns(
          { limit: opts.limit, state: opts.state ?? "", branch: opts.branch ?? "" },
          { timeoutMs: CALL_TIMEOUT_MS },
        );
        return res.runs;
      });
      cli.out.write(opts.json ? toJsonText(runs.map(runJson)) : runsTable(runs, Date.now(), cli.colors));
    });

  const agents = program
    .command("agents")
    .description(
      "list build agents; revoked, lost and offline ones stay listed until the server's retention (DOCKYARD_AGENT_RETENTION_MS) or `agents rm`",
    )
    .option("--json", "print a JSON array of agents")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const agents = await withClient(cli.clientConfig(cmd), async (client) => {
        const res = await client.listAgents({}, { timeoutMs: CALL_TIMEOUT_MS });
        return res.agents;
      });
      cli.out.write(opts.json ? toJsonText(agents.map(agentJson)) : agentsTable(agents, Date.now(), cli.colors));
    });
  agents
    .command("rm")
    .description("remove an agent that is gone (revoked, lost or offline) and holds no work of unfinished runs")
    .argument("<id>", "agent id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const res = await withClient(
        cli.clientConfig(cmd),
        (client) => client.removeAgent({ id }, { timeoutMs: CALL_TIMEOUT_MS }),
        {
          notFound: `agent not found: ${id}`,
        },
      );
      cli.out.write(`removed agent ${id} (${res.name}, ${res.state})\n`);
    });
  agents
    .command("revoke")
    .description("revoke an agent: its session ends now, its running stages end as lost, its id cannot register again")
    .argument("<id>", "agent id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const res = await withClient(
        cli.clientConfig(cmd),
        (client) => client.revokeAgent({ id }, { timeoutMs: CALL_TIMEOUT_MS }),
        {
          notFound: `agent not found: ${id}`,
        },
      );
      const n = res.attemptsLost;
      cli.out.write(`revoked agent ${id}; ${n} running attempt${n === 1 ? "" : "s"} ended as lost\n`);
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

/** The `agents` table. */
export function agentsTable(agents: Agent[], nowMs: number, c: Colors): string {
  if (agents.length === 0) return "no agents\n";
  const rows = agents.map((a) => [
    a.id,
    a.name,
    a.state,
    Object.entries(a.labels)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || "-",
    `${a.slotsUsed}/${a.capacity}`,
    formatAge(Number(a.lastHeartbeatMs), nowMs),
    a.version || "-",
  ]);
  return renderTable(["ID", "NAME", "STATE", "LABELS", "SLOTS", "HEARTBEAT", "VERSION"], rows, {
    header: c.bold,
    cell: (text, col) => (col === 2 ? colorState(text, c) : text),
  });
}

/** `--branch`: a branch name as pushed (no refs/heads/), at most 255 characters. */
function parseBranch(text: string): string {
  if (text === "" || text.length > 255 || /[\s\x00-\x1f\x7f]/.test(text))
    throw new InvalidArgumentError(
      `invalid --branch '${text.slice(0, 32)}': a branch name (main, release/v1), no spaces`,
    );
  return text.replace(/^refs\/heads\//, "");
}
