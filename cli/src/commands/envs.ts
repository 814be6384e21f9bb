// `dockyard envs`: the temporary environments deploy stages started and their agents still report alive.
import type { Command } from "commander";
import type { Environment } from "@dockyard/proto";
import type { EnvironmentView } from "@dockyard/web";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { renderTable } from "../format/table";
import { formatAge, formatDuration } from "../format/time";
import { toJsonText } from "../json";

export function registerEnvsCommand(program: Command, cli: CliContext): void {
  program
    .command("envs")
    .description("list live temporary environments (deploy stages): owner, agent, services, expiry")
    .option("--json", "print a JSON array of environments")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const envs = await withClient(
        cli.clientConfig(cmd),
        async (client) => (await client.listEnvironments({}, { timeoutMs: CALL_TIMEOUT_MS })).environments,
      );
      cli.out.write(opts.json ? toJsonText(envs.map(envJson)) : envsTable(envs, Date.now()));
    });
}

/** The HTTP API's EnvironmentView, from the wire message. */
export function envJson(e: Environment): EnvironmentView {
  return {
    id: e.id,
    runId: e.runId,
    stage: e.stageName,
    agent: e.agentName || e.agentId,
    owner: e.owner,
    createdAt: e.createdAtMs > 0n ? new Date(Number(e.createdAtMs)).toISOString() : null,
    expiresAt: e.expiresAtMs > 0n ? new Date(Number(e.expiresAtMs)).toISOString() : null,
    services: e.services,
  };
}

export function envsTable(envs: Environment[], nowMs: number): string {
  if (envs.length === 0) return "no live environments\n";
  const rows = envs.map((e) => {
    const left = Number(e.expiresAtMs) - nowMs;
    return [
      e.id,
      e.owner,
      e.agentName || e.agentId,
      Object.entries(e.services)
        .map(([s, a]) => `${s}=${a}`)
        .join(" "),
      e.expiresAtMs === 0n
        ? "never"
        : left > 0
          ? `in ${formatDuration(left)}`
          : `expired ${formatAge(Number(e.expiresAtMs), nowMs)}`,
    ];
  });
  return renderTable(["ENV", "OWNER", "AGENT", "SERVICES", "EXPIRES"], rows);
}
