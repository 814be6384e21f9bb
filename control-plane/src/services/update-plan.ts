// From what the read step found (the service file and its env file) to the update's plan: the
// definition checked, the revision (an existing one when nothing changed), and the hosts with
// their replicas of the new revision and of the one before.
import {
  formatServiceProblems,
  serviceDefinition,
  revisionSpecOf,
  type ServiceDefinition,
  type ServiceUpdatePolicy,
} from "@dockyard/pipeline";
import type { Tx } from "../store/db";
import type { PlacementRow } from "../store/schema";
import {
  candidateAgents,
  ensureService,
  getRevision,
  getService,
  lockService,
  revisionFor,
  setPolicy,
  type RevisionRecord,
} from "../store/services";
import type { HostPlan } from "./steps";

export class PlanError extends Error {
  override readonly name = "PlanError";
}

/** `replicas` spread over `agents` in order: the first ones take one more when it does not divide. */
export function spread(replicas: number, agents: { id: string; name: string }[]): PlacementRow[] {
  return agents.map((a, i) => ({
    agentId: a.id,
    agentName: a.name,
    replicas: Math.floor(replicas / agents.length) + (i < replicas % agents.length ? 1 : 0),
  }));
}

/** The service file's definition, or a PlanError listing its problems. */
export function definitionFrom(texts: Record<string, string>, file: string, service: string): ServiceDefinition {
  const parsed = serviceDefinition(texts.service_file ?? "", texts.env_file ?? null, { file, service });
  if (!parsed.ok)
    throw new PlanError(`service file '${file}' is not valid:\n${formatServiceProblems(parsed.problems)}`);
  return parsed.definition;
}

export interface Plan {
  revision: RevisionRecord;
  created: boolean;
  previous: RevisionRecord | null;
  hosts: HostPlan[];
  proxyPort: number;
  /** How it rolls: the file's `update:`, or (by revision) the service's last one. */
  policy: ServiceUpdatePolicy;
}

/** Hosts of the new placement, then those only the previous one had (they go to zero). */
export function hostsOf(next: PlacementRow[], previous: PlacementRow[]): HostPlan[] {
  const before = new Map(previous.map((p) => [p.agentId, p]));
  const hosts: HostPlan[] = next.map((p) => ({ ...p, previousReplicas: before.get(p.agentId)?.replicas ?? 0 }));
  for (const p of previous)
    if (!next.some((n) => n.agentId === p.agentId)) hosts.push({ ...p, replicas: 0, previousReplicas: p.replicas });
  return hosts;
}

/** Plan an update from a definition: create the service at its first update, find or make the revision. */
export async function planFromDefinition(
  tx: Tx,
  def: ServiceDefinition,
  image: string | null,
  origin: { runId: string; stageName: string },
  now: Date,
): Promise<Plan> {
  // Neither the stage nor the file names an image: the service keeps the one it runs (an env-only change).
  const kept = image ?? def.image ?? (await currentImage(tx, def.name));
  const made = revisionSpecOf(def, kept);
  if (!made.ok) throw new PlanError(`${made.message} (the service has no revision yet whose image it could keep)`);
  const spec = made.spec;
  const agents = await candidateAgents(tx, def.agents);
  const chosen = def.hosts === null ? agents : agents.slice(0, def.hosts);
  if (chosen.length === 0) {
    const labels = Object.entries(def.agents).map(([k, v]) => `${k}=${v}`);
    throw new PlanError(
      `no online agent offers docker${labels.length ? ` with labels ${labels.join(", ")}` : ""} ` +
        `to run service '${def.name}'`,
    );
  }
  const service = await ensureService(tx, def.name, def.proxyPort, def.update, now);
  if (service.proxyPort !== def.proxyPort)
    throw new PlanError(
      `service '${def.name}' has proxy_port ${service.proxyPort}; it cannot change to ${def.proxyPort} ` +
        "(that would drop its connections)",
    );
  await setPolicy(tx, def.name, def.update, now);
  const { revision, created } = await revisionFor(tx, def.name, spec, spread(spec.replicas, chosen), origin, now);
  return withPrevious(tx, revision, created, service.currentRevision, service.proxyPort, def.update);
}

/** The image of the revision `service` runs now; null for a service not yet created. */
async function currentImage(tx: Tx, service: string): Promise<string | null> {
  const row = await getService(tx, service);
  if (!row?.currentRevision) return null;
  return (await getRevision(tx, service, row.currentRevision))?.spec.image ?? null;
}

/** Plan a roll to an existing revision (`revision:`, a rollback): its own spec and placement. */
export async function planFromRevision(tx: Tx, service: string, revision: number): Promise<Plan> {
  const row = await ensureExisting(tx, service);
  const target = await getRevision(tx, service, revision);
  if (!target)
    throw new PlanError(
      `service '${service}' has no revision ${revision}` +
        (row.currentRevision ? ` (current: ${row.currentRevision})` : ""),
    );
  return withPrevious(tx, target, false, row.currentRevision, row.proxyPort, row.policy);
}

async function ensureExisting(tx: Tx, service: string) {
  const row = await lockService(tx, service);
  if (!row) throw new PlanError(`service '${service}' does not exist: its first update must name a service file`);
  return row;
}

async function withPrevious(
  tx: Tx,
  revision: RevisionRecord,
  created: boolean,
  current: number | null,
  proxyPort: number,
  policy: ServiceUpdatePolicy,
): Promise<Plan> {
  const previous = current === null ? null : await getRevision(tx, revision.service, current);
  return {
    revision,
    created,
    previous,
    hosts: hostsOf(revision.placement, previous?.placement ?? []),
    proxyPort,
    policy,
  };
}
