/**
 * Labels and names of environment resources. Every container, network and volume carries the
 * full set, so `listEnvironments` and `reapExpired` work from the engine alone (after an agent
 * restart, or for resources a crashed `upEnvironment` left behind).
 */

export const ENV_LABEL = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  volume: 'com.docker.compose.volume',
  network: 'com.docker.compose.network',
  env: 'dockyard.env',
  owner: 'dockyard.owner',
  run: 'dockyard.run',
  agent: 'dockyard.agent',
  expiresAt: 'dockyard.expires-at',
  stage: 'dockyard.stage',
  keepOnFailure: 'dockyard.keep-on-failure',
  /** On service containers: how others on the environment network reach it (host:port). */
  address: 'dockyard.address',
} as const;

/** Who an environment belongs to and until when it may live. */
export interface EnvironmentLabels {
  owner: string;
  runId: string;
  agentId: string;
  /** After this, `reapExpired` removes the environment. Stored as epoch milliseconds. */
  expiresAt: Date;
  /** The stage that started it (shown by `dockyard envs`). */
  stage?: string;
  /** Kept until its TTL when its run fails. A label, so a restarted agent still knows. */
  keepOnFailure?: boolean;
}

// Compose's own project-name rule; names built from it stay valid container, network and volume names.
export const PROJECT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const ENV_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The labels every resource of the environment carries. */
export function baseLabels(envId: string, project: string, labels: EnvironmentLabels): Record<string, string> {
  return {
    [ENV_LABEL.project]: project,
    [ENV_LABEL.env]: envId,
    [ENV_LABEL.owner]: labels.owner,
    [ENV_LABEL.run]: labels.runId,
    [ENV_LABEL.agent]: labels.agentId,
    [ENV_LABEL.expiresAt]: String(labels.expiresAt.getTime()),
    ...(labels.stage ? { [ENV_LABEL.stage]: labels.stage } : {}),
    ...(labels.keepOnFailure ? { [ENV_LABEL.keepOnFailure]: 'true' } : {}),
  };
}

/** Compose v2's naming, so `docker ps` output reads the way people expect. */
export const networkName = (project: string) => `${project}_default`;
export const volumeName = (project: string, volume: string) => `${project}_${volume}`;
export const containerName = (project: string, service: string) => `${project}-${service}-1`;

/** The Docker filter for one environment's resources (or, without an id, for all of them). */
export function envFilter(envId?: string): { label: string[] } {
  return { label: [envId === undefined ? ENV_LABEL.env : `${ENV_LABEL.env}=${envId}`] };
}
