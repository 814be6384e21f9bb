// The public HTTP API's shapes and the services the web app needs. The
// control plane implements WebServices; rows never reach the JSON directly.

export interface StageView {
  id: string;
  name: string;
  state: string;
  needs: string[];
  attempts: number;
  exitCode: number | null;
  reason: string | null;
  agentId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunView {
  id: string;
  name: string;
  state: string;
  source: string;
  createdAt: string;
  finishedAt: string | null;
  stages?: StageView[];
}

export interface AgentView {
  id: string;
  name: string;
  hostname: string;
  state: string;
  labels: Record<string, string>;
  capacity: number;
  slotsUsed: number;
  lastHeartbeatAt: string;
  version: string;
}

export interface WebServices {
  /** Resolves an API token; rejects with an error whose `code` is "unauthenticated". */
  authenticate(token: string): Promise<unknown>;
  /** `yaml` is the raw request body: validity of its UTF-8 is checked by the parser. */
  submitRun(yaml: Uint8Array, source: string): Promise<RunView>;
  getRun(id: string): Promise<RunView>;
  listRuns(opts: { limit?: number; state?: string }): Promise<RunView[]>;
  cancelRun(id: string): Promise<RunView>;
  listAgents(): Promise<AgentView[]>;
  /**
   * Prometheus exposition text and its content type. Called for every scrape that passes
   * AppOptions.metricsToken (never `authenticate`): keep it cheap.
   */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Liveness of the process's dependencies. */
  health(): Promise<{ ok: boolean; checks: Record<string, string> }>;
}

/** Errors thrown by services carry one of these codes (see app.onError). */
export type ServiceErrorCode = "not_found" | "invalid" | "unauthenticated" | "conflict" | "unavailable" | "internal";

export interface ErrorBody {
  error: { code: string; message: string; problems?: string[] };
}
