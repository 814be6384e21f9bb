// Implements the web package's WebServices on top of RunsService: rows are
// converted to the public JSON views here.
import type { Registry } from "prom-client";
import type { AgentView, RunView, WebServices } from "@dockyard/web";
import type { RunsService } from "./runs-service";
import type { RunRow, RunWithStages } from "./store/runs";
import type { AgentWithUsage as AgentRow } from "./store/agents";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function runView(run: RunRow | RunWithStages): RunView {
  const view: RunView = {
    id: run.id, name: run.name, state: run.state, source: run.source, createdAt: run.createdAt.toISOString(), finishedAt: iso(run.finishedAt),
  };
  if ("stages" in run) {
    view.stages = run.stages.map((s) => ({
      id: s.id, name: s.name, state: s.state, needs: s.needs, attempts: s.attempts, exitCode: s.exitCode, reason: s.reason,
      agentId: s.agentId, startedAt: iso(s.startedAt), finishedAt: iso(s.finishedAt),
    }));
  }
  return view;
}

export function agentView(a: AgentRow): AgentView {
  return {
    id: a.id, name: a.name, hostname: a.hostname, state: a.state, labels: a.labels, capacity: a.capacity, slotsUsed: a.slotsUsed,
    lastHeartbeatAt: a.lastHeartbeatAt.toISOString(), version: a.version,
  };
}

export function webServices(runs: RunsService, registry: Registry, health: WebServices["health"]): WebServices {
  return {
    authenticate: (token) => runs.authenticate(token),
    submitRun: async (yaml, source) => runView(await runs.submit(yaml, source)),
    getRun: async (id) => runView(await runs.get(id)),
    listRuns: async (opts) => (await runs.list(opts)).map(runView),
    cancelRun: async (id) => runView(await runs.cancel(id)),
    listAgents: async () => (await runs.agents()).map(agentView),
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    health,
  };
}
