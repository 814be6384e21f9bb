// What `dockyard services` and GET /api/v1/services show: each service's revision, image and,
// per host, the replicas its agent reports (heartbeat inventory: `service-replica` resources)
// against the ones the revision places there; and the per-host history.
import { sql } from "drizzle-orm";
import { queryRows, type Db } from "../store/db";
import { getRevision, listServices, serviceHistoryOf, getService } from "../store/services";
import { NotFoundError } from "../errors";
import type { ServiceHistoryView, ServiceHostView, ServiceView } from "@dockyard/web";

interface ReplicaRow {
  agent_id: string;
  service: string;
  revision: string;
  state: string;
  kind: string;
  address: string | null;
}

export async function serviceViews(db: Db, only?: string): Promise<ServiceView[]> {
  const list = only ? [await requireService(db, only)] : await listServices(db);
  const replicas = await queryRows<ReplicaRow>(
    db,
    sql`SELECT agent_id, kind, CASE WHEN kind = 'service-proxy' THEN id ELSE attributes->>'service' END AS service,
      attributes->>'revision' AS revision,
      coalesce(attributes->>'state', '') AS state, attributes->>'address' AS address
      FROM agent_resources WHERE kind IN ('service-replica', 'service-proxy')`,
  );
  const updating = await queryRows<{ service: string; run_id: string; holder_text: string; stage: string }>(
    db,
    sql`SELECT DISTINCT ON (d.service) d.service, d.run_id, d.holder_text, s.name AS stage
      FROM service_deploys d JOIN attempts a ON a.id = d.attempt_id JOIN stages s ON s.id = a.stage_id
      WHERE a.state IN ('assigned', 'running') ORDER BY d.service, d.requested_at, d.attempt_id`,
  );
  const views: ServiceView[] = [];
  for (const svc of list) {
    const rev = svc.currentRevision === null ? null : await getRevision(db, svc.name, svc.currentRevision);
    const mine = replicas.filter((r) => r.service === svc.name);
    const hosts = (rev?.placement ?? []).map((p): ServiceHostView => {
      const here = mine.filter(
        (r) => r.agent_id === p.agentId && r.kind === "service-replica" && r.state === "running",
      );
      const running = here.filter((r) => Number(r.revision) === svc.currentRevision).length;
      const proxy = mine.find((r) => r.agent_id === p.agentId && r.kind === "service-proxy");
      return {
        agent: p.agentName,
        agentId: p.agentId,
        expected: p.replicas,
        running,
        others: here.length - running,
        address: proxy?.address ?? null,
        healthy: running >= p.replicas,
      };
    });
    const u = updating.find((x) => x.service === svc.name);
    views.push({
      name: svc.name,
      revision: svc.currentRevision,
      previousRevision: svc.previousRevision,
      image: rev?.spec.image ?? null,
      proxyPort: svc.proxyPort,
      health: rev === null ? "none" : hosts.every((h) => h.healthy) ? "healthy" : "degraded",
      hosts,
      updating: u ? { runId: u.run_id, run: u.holder_text, stage: u.stage } : null,
      updatedAt: svc.updatedAt.toISOString(),
    });
  }
  return views;
}

export async function serviceHistoryView(db: Db, name: string): Promise<ServiceHistoryView[]> {
  await requireService(db, name);
  return (await serviceHistoryOf(db, name)).map((h) => ({
    revision: h.revision,
    agent: h.agentName,
    replicas: h.replicas,
    since: h.since.toISOString(),
    until: h.until?.toISOString() ?? null,
    run: h.runRef,
    runId: h.runId,
    action: h.action as ServiceHistoryView["action"],
    reason: h.reason,
  }));
}

async function requireService(db: Db, name: string) {
  const svc = await getService(db, name);
  if (!svc) {
    const names = (await listServices(db)).map((s) => s.name);
    throw new NotFoundError(
      "service",
      name,
      `service '${name.slice(0, 63)}' does not exist` +
        (names.length ? `; services: ${names.join(", ")}` : " (none yet: an update-service stage creates one)"),
    );
  }
  return svc;
}
