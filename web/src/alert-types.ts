// Alerts: what Alertmanager posts (its webhook v4 body, as the receiver reads it) and the public
// JSON view of a stored alert (`GET /api/v1/alerts`, `dockyard alerts --json`).

/** One alert of an Alertmanager webhook v4 body (fields the server does not use are dropped). */
export interface AlertmanagerAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** ISO-8601; the alert's identity together with the fingerprint. */
  startsAt: string;
  /** ISO-8601; Alertmanager sends the zero time (0001-01-01) while no end is known. */
  endsAt: string;
  fingerprint: string;
  generatorURL: string;
}

export interface AlertmanagerPayload {
  version: "4";
  status: "firing" | "resolved";
  receiver: string;
  alerts: AlertmanagerAlert[];
}

/** What one post did: how many alerts were new, resolved an earlier row, or were resends. */
export interface AlertReceipt {
  received: number;
  stored: number;
  resolved: number;
  repeated: number;
}

export interface AlertView {
  fingerprint: string;
  alertname: string;
  /** firing | resolved */
  status: string;
  startsAt: string;
  /** null while firing with no end known. */
  endsAt: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The `summary` annotation, null when it has none. */
  summary: string | null;
  receivedAt: string;
  /** When a post turned it resolved; null while firing. */
  resolvedAt: string | null;
  /** Channels a message was enqueued for. */
  notified: string[];
  /** The run whose pipeline's `notify:` rules were used (null: no pipeline matched). */
  pipelineRunId: string | null;
  /** The update this alert rolled back (`switch`: the update in progress switched back), or null. */
  rollback: { runId: string; service: string; mode: string; revision: number | null } | null;
  /** Why it did not roll back, for an alert naming a service; null otherwise. */
  noRollback: string | null;
}

/** Alert states a list can be filtered by. */
export const ALERT_STATES = ["firing", "resolved"] as const;
/** Largest number of alerts one list answers; the default when unset. */
export const MAX_ALERTS_LIMIT = 500;
export const DEFAULT_ALERTS_LIMIT = 50;
