// What an admin does to agents and to the join tokens that admit them: list, drain and undrain,
// revoke (one agent, or every agent of a join token), remove a gone one. Both edges call it through
// RunsService.agentAdmin: gRPC (run-handlers.ts) and HTTP (web-services.ts).
import type { Logger } from "pino";
import type { Db } from "./store/db";
import type { Clock } from "./clock";
import type { Scheduler } from "./scheduler/scheduler";
import { listAgents, removeAgent, revokeAgent, type AgentWithUsage } from "./store/agents";
import { audit, type Actor } from "./store/audit";
import { loseAgentAttempts } from "./store/attempts";
import { createJoinToken, revokeJoinToken } from "./store/tokens";
import { requestDrain } from "./store/agent-drain";
import { InvalidError, NotFoundError } from "./errors";

export interface AgentAdminDeps {
  db: Db;
  clock: Clock;
  /** Told of the attempts a revocation ended (their retries, their agents' fences). */
  scheduler: Pick<Scheduler, "afterEnded" | "retryMarginMs">;
  /** Appended to every join token created, so agents pin the CA on first contact. */
  caFingerprint: string;
  log: Logger;
}

const UUID = /^[0-9a-f-]{36}$/;

export class AgentAdmin {
  constructor(private readonly deps: AgentAdminDeps) {}

  async list(): Promise<AgentWithUsage[]> {
    return listAgents(this.deps.db);
  }

  /** A new join token, `<secret>.<CA fingerprint>`; only the secret's hash is stored. */
  async createJoinToken(description: string, actor: Actor) {
    if (description.length > 200) throw new InvalidError("description is longer than 200 characters");
    const { id, token } = await createJoinToken(this.deps.db, description, actor, this.deps.clock.now());
    this.deps.log.info({ joinTokenId: id }, "join token created");
    return { id, token: `${token}.${this.deps.caFingerprint}` };
  }

  /**
   * Revoke a join token and every agent registered with it: their sessions end now (an
   * agent notices at its next heartbeat), their attempts end as lost and retry by policy.
   */
  async revokeJoinToken(id: string, actor: Actor): Promise<{ agentsRevoked: number }> {
    checkId(id, "join token id");
    const agentIds = await revokeJoinToken(this.deps.db, id, actor, this.deps.clock.now());
    const ended = await this.endRevoked(agentIds, "agent's join token was revoked");
    this.deps.log.warn({ joinTokenId: id, agentIds, attemptsLost: ended }, "join token revoked");
    return { agentsRevoked: agentIds.length };
  }

  /** Revoke one agent: its session ends now, its id cannot register again, its attempts end as lost. */
  async revokeAgent(id: string, actor: Actor): Promise<{ attemptsLost: number }> {
    checkId(id, "agent id");
    await revokeAgent(this.deps.db, id, actor, this.deps.clock.now());
    const attemptsLost = await this.endRevoked([id], "agent was revoked");
    this.deps.log.warn({ agentId: id, attemptsLost }, "agent revoked");
    return { attemptsLost };
  }

  /**
   * Drain or undrain one agent as an admin (see requestDrain): it takes no new work while drained.
   * Answers the agent as it is after the change; NotFoundError, ConflictError for a revoked agent.
   */
  async drainAgent(id: string, drain: boolean, actor: Actor): Promise<AgentWithUsage> {
    checkId(id, "agent id");
    const result = await requestDrain(this.deps.db, id, drain, actor, this.deps.clock.now());
    this.deps.log.info({ agentId: id, drain, state: result.state }, drain ? "agent drained" : "agent undrained");
    return this.one(id);
  }

  /** One agent by id, as `list` shows it; NotFoundError when there is none (removed meanwhile). */
  async one(id: string): Promise<AgentWithUsage> {
    const agent = (await this.list()).find((a) => a.id === id);
    if (!agent) throw new NotFoundError("agent", id);
    return agent;
  }

  /** Delete an agent that is gone (revoked, lost, offline) and holds no live work; see removeAgent for the errors. */
  async removeAgent(id: string, actor: Actor): Promise<{ name: string; state: string }> {
    checkId(id, "agent id");
    const removed = await removeAgent(this.deps.db, id);
    // After the delete (it re-checks the agent is gone in its own statement): recorded once it happened.
    await audit(this.deps.db, {
      actor,
      action: "agent.removed",
      target: id,
      details: removed,
      at: this.deps.clock.now(),
    });
    this.deps.log.info({ agentId: id, name: removed.name, state: removed.state }, "agent removed");
    return removed;
  }

  private async endRevoked(agentIds: string[], reason: string): Promise<number> {
    // The agent may still run them (cut off, it learns of the revocation late): their retries wait
    // until its fence has stopped them.
    const ended = await loseAgentAttempts(this.deps.db, agentIds, this.deps.clock.now(), reason, {
      retryMarginMs: this.deps.scheduler.retryMarginMs,
    });
    this.deps.scheduler.afterEnded(ended, "server");
    return ended.length;
  }
}

function checkId(id: string, what: string): string {
  if (!UUID.test(id)) throw new InvalidError(`${what} must be a UUID, got '${id.slice(0, 64)}'`);
  return id;
}
