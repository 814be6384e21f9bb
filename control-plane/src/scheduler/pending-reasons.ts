// Why a queued stage waits: a pure decision from the stage's requirements and
// the registered agents, worded for people (CLI, API, live view). No I/O: the
// PendingExplainer reads the inputs and writes the answer off the dispatch path.
import { labelsMatch } from "../domain/states";

/** An agent as the explainer sees it (any state but revoked). */
export interface AgentSnapshot {
  id: string;
  name: string;
  /**
   * online | draining | lost | offline, or `silent`: online but not heard from for long enough
   * that placement passes it over (revoked agents are left out by the caller, and ignored here).
   */
  state: string;
  labels: Record<string, string>;
  capabilities: string[];
  capacity: number;
  /** Attempts it holds now (assigned or running). */
  used: number;
}

/** What a stage asks of an agent. */
export interface StageRequirements {
  /** Label selector (`agent:` in the pipeline): the agent must carry every pair. */
  selector: Record<string, string>;
  /** Capabilities the stage's kind needs (docker, shell, build). */
  requires: string[];
  /** Agents that lost an attempt of this stage before (placement prefers others). */
  avoid: string[];
  /** The only agent that may take it (a test on a deploy's environment) and why; absent otherwise. */
  pinned?: { agentId: string; why: string };
}

export interface PendingExplanation {
  reason: string;
  /**
   * No registered agent (online, draining, lost or offline) carries the labels and offers
   * the capabilities: as the farm stands the stage can never run.
   */
  unschedulable: boolean;
  /**
   * A matching online agent has a free slot: the stage only waits for a scheduling pass
   * (a backlog), so a reason it already has is better kept than replaced for a moment.
   */
  transient: boolean;
  /** A matching agent is online: the stage waits for a slot (full agents, or a backlog). */
  forSlot: boolean;
}

/** Names listed in a reason before `and N more`. */
export const MAX_LISTED = 5;

/** Decide why a stage with `req` is not placed, given every registered agent. */
export function explainPending(req: StageRequirements, agents: AgentSnapshot[]): PendingExplanation {
  if (req.pinned) return explainPinned(req, req.pinned, agents);
  const registered = agents
    .filter((a) => a.state !== "revoked")
    .sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id));
  if (registered.length === 0) return never("no agent is registered");
  const labelled = registered.filter((a) => labelsMatch(req.selector, a.labels));
  if (labelled.length === 0) return never(labelReason(req.selector, registered));
  const matching = labelled.filter((a) => req.requires.every((c) => a.capabilities.includes(c)));
  if (matching.length === 0) {
    const which =
      Object.keys(req.selector).length === 0 ? "" : ` with ${labelWord(req.selector)} ${pairs(req.selector)}`;
    return never(
      `no online agent${which} offers ${req.requires.length === 1 ? "capability" : "capabilities"} ${req.requires.join(", ")}`,
    );
  }

  const online = matching.filter((a) => a.state === "online");
  const free = online.filter((a) => a.capacity > a.used);
  if (free.length > 0) {
    const slots = free.reduce((n, a) => n + a.capacity - a.used, 0);
    const where = free.length === 1 ? `agent ${free[0]!.name} has` : `${free.length} matching agents have`;
    return {
      reason: `waiting to be placed (${where} ${slots} free slot${slots === 1 ? "" : "s"})`,
      unschedulable: false,
      transient: true,
      forSlot: true,
    };
  }

  const clauses: string[] = [];
  if (online.length > 0) {
    const usage = list(
      online.map((a) => `${a.used}/${a.capacity}`),
      ", ",
    );
    clauses.push(`${online.length} matching agent${online.length === 1 ? " is" : "s are"} full (${usage})`);
  }
  const only = matching.length === 1 ? matching[0]! : null;
  if (only && only.state !== "online" && only.state !== "draining") {
    clauses.push(`the only matching agent ${only.name} is ${STATE_WORDS[only.state] ?? "unavailable"}`);
  } else {
    const away = matching.filter((a) => a.state !== "online");
    for (const state of [...Object.keys(STATE_WORDS), "unavailable"]) {
      const group = away.filter((a) => (a.state in STATE_WORDS ? a.state : "unavailable") === state);
      if (group.length > 0)
        clauses.push(
          `${group.length === 1 ? "agent" : "agents"} ${names(group)} ${group.length === 1 ? "is" : "are"} ${STATE_WORDS[state] ?? state}`,
        );
    }
  }
  const avoided = matching.filter((a) => req.avoid.includes(a.id));
  if (avoided.length > 0) clauses.push(`${avoided.length === 1 ? "agent" : "agents"} ${names(avoided)} lost it before`);
  return { reason: clauses.join("; "), unschedulable: false, transient: false, forSlot: online.length > 0 };
}

/** A stage that must run on one agent (where its environment lives): only that agent's state matters. */
function explainPinned(
  req: StageRequirements,
  pinned: { agentId: string; why: string },
  agents: AgentSnapshot[],
): PendingExplanation {
  const agent = agents.find((a) => a.id === pinned.agentId);
  if (!agent || agent.state === "revoked") return never(`${pinned.why}, and that agent is gone`);
  if (agent.state !== "online")
    return {
      reason: `${pinned.why}: agent ${agent.name} is ${STATE_WORDS[agent.state] ?? agent.state}`,
      unschedulable: false,
      transient: false,
      forSlot: false,
    };
  if (agent.capacity <= agent.used)
    return {
      reason: `${pinned.why}: agent ${agent.name} is full (${agent.used}/${agent.capacity})`,
      unschedulable: false,
      transient: false,
      forSlot: true,
    };
  const free = explainPending({ ...req, pinned: undefined }, [agent]);
  return free.unschedulable ? never(`${pinned.why}, but ${free.reason}`) : free;
}

/** How each state but online reads after "agent a is", in the order reasons list them. */
const STATE_WORDS: Record<string, string> = {
  draining: "draining",
  silent: "not responding",
  lost: "lost",
  offline: "offline",
};

function never(reason: string): PendingExplanation {
  return { reason, unschedulable: true, transient: false, forSlot: false };
}

/**
 * No registered agent carries the selector: name the pairs nobody carries (or, when each
 * pair is on some agent, all of them: no agent has every one), and list the agents.
 */
function labelReason(selector: Record<string, string>, registered: AgentSnapshot[]): string {
  const missing = Object.fromEntries(
    Object.entries(selector).filter(([k, v]) => !registered.some((a) => a.labels[k] === v)),
  );
  const agents = `(agents: ${names(registered)})`;
  if (Object.keys(missing).length > 0) return `no agent has ${labelWord(missing)} ${pairs(missing)} ${agents}`;
  return `no agent has all of labels ${pairs(selector)} ${agents}`;
}

const labelWord = (labels: Record<string, string>) => (Object.keys(labels).length === 1 ? "label" : "labels");

const pairs = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");

const names = (agents: AgentSnapshot[]) =>
  list(
    agents.map((a) => a.name),
    ", ",
  );

/** At most MAX_LISTED items, then `and N more`. */
function list(items: string[], sep: string): string {
  if (items.length <= MAX_LISTED) return items.join(sep);
  return `${items.slice(0, MAX_LISTED).join(sep)} and ${items.length - MAX_LISTED} more`;
}
