// `service-step` (internal): one host's part of a service update, spawned by the server's
// `update-service` coordinator as a child pinned to that host. Never written in a pipeline:
// its schema accepts nothing, and the stage schema leaves it out.
//   read:  read the service file (and its env file) from the run's source; outputs their texts.
//   roll:  make this host serve `target` with `replicas` replicas behind its proxy: start the
//          missing ones `maxParallel` at a time, wait until each is healthy, put it in the proxy,
//          drain and take out replicas of other revisions; stop those unless `keepOthers`.
//          Converges: running it again (or after a kill) does what is left, nothing twice.
//   watch: for `watchMs`, fail as soon as one of `target`'s replicas on this host stops.
import { defineKind } from './kind.js';
import type { ServiceRevisionSpec } from '../services/types.js';

/**
 * One revision as a host runs it: the revision's spec and number, without the replica count (each host's step
 * says how many it runs). `secrets` (names) come from the store at the step's start.
 */
export type ServiceStepTarget = Omit<ServiceRevisionSpec, 'replicas'> & { revision: number };

export interface ServiceStepSpec {
  type: 'service-step';
  action: 'read' | 'roll' | 'watch';
  service: string;
  /** read: the service file's path in the run's source. */
  file: string | null;
  /** roll, watch: the revision this host must serve; null (roll): none, every replica taken out and stopped. */
  target: ServiceStepTarget | null;
  /** roll: how many replicas of `target` on this host. */
  replicas: number;
  /** The proxy's port on this host (its address: the agent's service address). */
  proxyPort: number;
  maxParallel: number;
  healthTimeoutMs: number;
  drainTimeoutMs: number;
  /** roll: replicas of other revisions keep running once drained (the watch window: a rollback is a switch). */
  keepOthers: boolean;
  /** watch: how long. */
  watchMs: number;
}

export const serviceStep = defineKind({
  type: 'service-step',
  internal: true,
  description: "One host's step of a service update, spawned by update-service (never written in a pipeline).",
  shape: {},
  build: (): ServiceStepSpec => {
    throw new Error('service-step stages are spawned by update-service, never parsed from a pipeline');
  },
});
