// The agents whose AttemptStream is open on this replica: a placement for one of
// them is pushed down its stream (one hop over TLS, no NATS, no extra round
// trip). Agents on another replica get the NATS wake-up and fetch the assignment.
import { create, AttemptCommandSchema, type Assignment } from "@dockyard/proto";

export interface PushTarget {
  /** False when the stream is closed (the caller falls back to NATS). */
  push(assignment: Assignment): boolean;
}

export class AgentStreams {
  private readonly streams = new Map<string, PushTarget>();

  add(agentId: string, stream: PushTarget): void {
    this.streams.set(agentId, stream);
  }

  remove(agentId: string, stream: PushTarget): void {
    if (this.streams.get(agentId) === stream) this.streams.delete(agentId);
  }

  /** Push to the agent's stream on this replica; false when it has none here. */
  push(agentId: string, assignment: Assignment): boolean {
    return this.streams.get(agentId)?.push(assignment) ?? false;
  }
}

export const assignCommand = (a: Assignment) =>
  create(AttemptCommandSchema, { attemptId: a.attemptId, body: { case: "assign", value: a } });
