// The farm series of `/metrics`: gauges and Postgres-kept counters, all filled at scrape time from
// the one cached read of the farm (farm-read.ts), so every replica reports the same values.
import { Counter, Gauge, type Registry } from "prom-client";
import { ENVIRONMENT_RESOURCE } from "@dockyard/proto";
import { counterSeries, type FarmCounts } from "./farm-read";
import { FAILED_DELIVERIES, SERVICE_ROLLBACKS } from "./store/farm-counters";

/** A gauge set from one map of the farm read, one series per key under `label` (or one value, unlabeled). */
function mapGauge(
  registry: Registry,
  farm: () => Promise<FarmCounts>,
  def: { name: string; help: string; label?: string; from: keyof FarmCounts; key?: string },
): void {
  new Gauge({
    name: def.name,
    help: def.help,
    labelNames: def.label ? [def.label] : [],
    registers: [registry],
    async collect() {
      const values = (await farm())[def.from];
      if (!def.label) return void this.set(values.get(def.key ?? "") ?? 0);
      this.reset();
      for (const [key, n] of values) this.set({ [def.label]: key }, n);
    },
  });
}

export function registerFarmSeries(registry: Registry, farm: () => Promise<FarmCounts>): void {
  mapGauge(registry, farm, {
    name: "dockyard_queue_depth",
    help: "Stages queued and waiting for an agent",
    from: "stages",
    key: "queued",
  });
  mapGauge(registry, farm, { name: "dockyard_stages", help: "Stages by state", label: "state", from: "stages" });
  mapGauge(registry, farm, { name: "dockyard_agents", help: "Agents by state", label: "state", from: "agents" });
  mapGauge(registry, farm, {
    name: "dockyard_build_cache_bytes",
    help: "BuildKit cache on each online agent's engine, as last reported (pruned to DOCKYARD_BUILD_CACHE_BYTES)",
    label: "agent",
    from: "buildCache",
  });
  mapGauge(registry, farm, {
    name: "dockyard_approvals_waiting",
    help: "Approval stages waiting for a decision",
    from: "approvals",
    key: "waiting",
  });
  mapGauge(registry, farm, {
    name: "dockyard_outbox_depth",
    help: "Notification deliveries not yet sent: due now or waiting for a retry",
    from: "outbox",
    key: "pending",
  });
  mapGauge(registry, farm, {
    name: "dockyard_service_revision",
    help: "The revision each service serves on every host (services with none yet are absent)",
    label: "service",
    from: "revisions",
  });
  new Gauge({
    name: "dockyard_agent_resources",
    help: "What agents report holding beyond stages, by kind (environment): live, or leaked (past their TTL by over a minute)",
    labelNames: ["kind", "state"],
    registers: [registry],
    async collect() {
      const { resources } = await farm();
      this.reset();
      // Always the environment series, so a dashboard or alert has a 0 to read.
      for (const state of ["live", "leaked"]) this.set({ kind: ENVIRONMENT_RESOURCE, state }, 0);
      for (const [key, n] of resources) {
        const [kind = "", state = ""] = key.split("/");
        this.set({ kind, state }, n);
      }
    },
  });
  new Gauge({
    name: "dockyard_workspaces",
    help: "Run workspaces (volumes, shell directories) online agents report holding: live, or leaked (their run ended over a minute ago)",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const { workspaces } = await farm();
      this.reset();
      for (const state of ["live", "leaked"]) this.set({ state }, workspaces.get(state) ?? 0);
    },
  });
  new Counter({
    name: FAILED_DELIVERIES,
    help: "Notification deliveries that gave up (refused, or every retry failed), all replicas",
    registers: [registry],
    async collect() {
      const [series] = counterSeries(await farm(), FAILED_DELIVERIES);
      this.reset();
      this.inc(series?.value ?? 0);
    },
  });
  new Counter({
    name: SERVICE_ROLLBACKS,
    help: "Service rollbacks started, by service and reason: health | died | lost | timeout | requested | alert",
    labelNames: ["service", "reason"],
    registers: [registry],
    async collect() {
      const series = counterSeries(await farm(), SERVICE_ROLLBACKS);
      this.reset();
      for (const { labels, value } of series)
        this.inc({ service: labels.service ?? "", reason: labels.reason ?? "" }, value);
    },
  });
}
