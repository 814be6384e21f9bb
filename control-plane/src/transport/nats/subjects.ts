// NATS subjects, all under a configurable prefix (tests use one per file).
export interface Subjects {
  register: string;
  heartbeat: string;
  kick: string;
  /** Broadcast to agents: a run ended, its workspaces can go. */
  runEnded: string;
  assign(agentId: string): string;
  cancel(agentId: string): string;
  runEvents(runId: string): string;
}

export function subjects(prefix: string): Subjects {
  return {
    register: `${prefix}.agents.register`,
    heartbeat: `${prefix}.agents.heartbeat`,
    kick: `${prefix}.scheduler.kick`,
    runEnded: `${prefix}.agents.run-ended`,
    assign: (agentId) => `${prefix}.agent.${agentId}.assign`,
    cancel: (agentId) => `${prefix}.agent.${agentId}.cancel`,
    runEvents: (runId) => `${prefix}.run.${runId}.events`,
  };
}

/** Queue group shared by server replicas: each request is handled once. */
export const SERVER_QUEUE = "dockyard-server";

/** Bound on any agent-originated NATS message we decode. */
export const MAX_AGENT_MESSAGE_BYTES = 64 * 1024;
