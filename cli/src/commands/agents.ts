// `dockyard agents` (list) and its admin verbs: drain, undrain, revoke, rm.
import type { Agent } from "@dockyard/proto";
import { InvalidArgumentError, type Command } from "commander";
import type { CliContext } from "../cli-context";
import { CALL_TIMEOUT_MS, withClient } from "../client";
import { renderTable } from "../format/table";
import { formatAge } from "../format/time";
import { agentJson, toJsonText } from "../json";
import { colorState } from "../watch/status-format";
import type { Colors } from "../watch/status-format";
import { CliError } from "../errors";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An agent id argument: a UUID (as `agents` lists it), refused before any call otherwise. */
function parseAgentId(text: string): string {
  if (!UUID.test(text))
    throw new InvalidArgumentError(`invalid agent id '${text.slice(0, 40)}': an agent id is a UUID (dockyard agents)`);
  return text;
}

/** Registers `agents` and `agents drain|undrain|revoke|rm`. */
export function registerAgentCommands(program: Command, cli: CliContext): void {
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
  for (const [verb, description] of [
    [
      "drain",
      "drain an agent: it takes no new stage (its running ones finish) and stays draining until undrained (admin)",
    ],
    ["undrain", "undrain an agent: it takes work again from its next heartbeat (admin)"],
  ] as const) {
    agents
      .command(verb)
      .description(description)
      .argument("<id>", "agent id (dockyard agents)", parseAgentId)
      .option("--json", "print the agent as JSON (as `agents --json` prints it)")
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        // `agents` itself takes --json too, and commander gives it the flag wherever it is written.
        const json = Boolean((cmd.optsWithGlobals() as { json?: boolean }).json);
        const agent = await withClient(
          cli.clientConfig(cmd),
          async (client) =>
            verb === "drain"
              ? (await client.drainAgent({ id }, { timeoutMs: CALL_TIMEOUT_MS })).agent
              : (await client.undrainAgent({ id }, { timeoutMs: CALL_TIMEOUT_MS })).agent,
          { notFound: `agent not found: ${id}` },
        );
        if (!agent) throw new CliError(`the server returned no agent for ${id}`);
        cli.out.write(
          json
            ? toJsonText(agentJson(agent))
            : `${verb}ed agent ${id} (${agent.name}): ${colorState(agent.state, cli.colors)}\n`,
        );
      });
  }
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
    a.version || "-",
    formatAge(Number(a.lastHeartbeatMs), nowMs),
  ]);
  return renderTable(["ID", "NAME", "STATE", "LABELS", "SLOTS", "VERSION", "HEARTBEAT"], rows, {
    header: c.bold,
    cell: (text, col) => (col === 2 ? colorState(text, c) : text),
  });
}
