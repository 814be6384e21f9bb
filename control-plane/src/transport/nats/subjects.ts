// NATS subjects, all under a configurable prefix (tests use one per file).
export interface Subjects {
  kick: string;
  /** Broadcast to agents: a run ended, its workspaces can go. */
  runEnded: string;
  assign(agentId: string): string;
  cancel(agentId: string): string;
  runEvents(runId: string): string;
  /** A run was created or changed state (or one of its stages did): the runs-list streams' wake-up. */
  runsChanged: string;
}

export function subjects(prefix: string): Subjects {
  return {
    kick: `${prefix}.scheduler.kick`,
    runEnded: `${prefix}.agents.run-ended`,
    assign: (agentId) => `${prefix}.agent.${agentId}.assign`,
    cancel: (agentId) => `${prefix}.agent.${agentId}.cancel`,
    runEvents: (runId) => `${prefix}.run.${runId}.events`,
    runsChanged: `${prefix}.runs.changed`,
  };
}
