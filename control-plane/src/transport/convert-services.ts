// Services' JSON views to their wire messages (the CLI turns them back with the same shapes).
import {
  create,
  ServiceSchema,
  ServiceHistoryEntrySchema,
  type Service,
  type ServiceHistoryEntry,
} from "@dockyard/proto";
import type { ServiceHistoryView, ServiceView } from "@dockyard/web";

const ms = (iso: string | null) => BigInt(iso ? Date.parse(iso) : 0);

export function toService(v: ServiceView): Service {
  return create(ServiceSchema, {
    name: v.name,
    revision: v.revision ?? 0,
    previousRevision: v.previousRevision ?? 0,
    image: v.image ?? "",
    proxyPort: v.proxyPort,
    health: v.health,
    hosts: v.hosts.map((h) => ({ ...h, address: h.address ?? "" })),
    updatingRunId: v.updating?.runId ?? "",
    updatingRun: v.updating?.run ?? "",
    updatingStage: v.updating?.stage ?? "",
    updatedAtMs: ms(v.updatedAt),
  });
}

export function toHistoryEntry(h: ServiceHistoryView): ServiceHistoryEntry {
  return create(ServiceHistoryEntrySchema, {
    revision: h.revision,
    agent: h.agent,
    replicas: h.replicas,
    sinceMs: ms(h.since),
    untilMs: ms(h.until),
    run: h.run,
    runId: h.runId ?? "",
    action: h.action,
    reason: h.reason,
  });
}
