// `type: deploy`: a temporary environment started from a Compose-subset
// template in the run's source, with the image just built substituted into
// named services, named volumes seeded with test data, an owner and a TTL.
// Outputs: env_id, network, and per service SERVICE.host / SERVICE.ip / SERVICE.address.
import { z } from 'zod';
import { durationSchema } from '../schema-parts.js';
import { sourcePathSchema } from './build.js';
import { imageSchema } from './command.js';
import { defineKind } from './kind.js';

const serviceName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, { error: 'invalid service name' });
const DEFAULT_TTL_MS = 3_600_000;
const DEFAULT_HEALTH_TIMEOUT_MS = 120_000;

export interface DeploySpec {
  type: 'deploy';
  /** The Compose-subset file, a path in the run's source. */
  template: string;
  /** Service -> image replacing the template's (expressions allowed, e.g. an earlier build's output). */
  images: Record<string, string>;
  /** Named volume -> directory or .tar in the source, copied in before the services start. */
  seed: Record<string, string>;
  ttlMs: number;
  healthTimeoutMs: number;
  /** Keep the environment after a failed run until its TTL (for debugging); default: tear down. */
  keepOnFailure: boolean;
}

export const deploy = defineKind({
  type: 'deploy',
  source: 'needs',
  outputs: {
    keys: ['env_id', 'network', 'owner', 'expires_at_ms'],
    pattern: { regex: /^[^.]+\.(?:host|ip|address)$/, shape: 'SERVICE.host, SERVICE.ip, SERVICE.address' },
  },
  description:
    'Start a temporary environment (Compose subset) with a TTL; torn down when the run ends or the TTL expires.',
  shape: {
    template: sourcePathSchema.meta({ description: "Compose-subset template in the run's source, e.g. env.yml." }),
    images: z.record(serviceName, imageSchema).optional().meta({
      description: 'Service -> image overriding the template, e.g. { web: "${{ stages.build.outputs.image }}" }.',
    }),
    seed: z
      .record(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, { error: 'invalid volume name' }), sourcePathSchema)
      .optional()
      .meta({ description: 'Named volume -> directory or .tar in the source holding its test data.' }),
    ttl: durationSchema
      .optional()
      .meta({ description: 'How long the environment may live (default 1h, at most 24h).' }),
    health_timeout: durationSchema
      .optional()
      .meta({ description: 'Longest wait for every health check to pass (default 2m).' }),
    keep_on_failure: z
      .boolean()
      .optional()
      .meta({ description: 'Keep the environment after a failed run until its TTL. Default false.' }),
  },
  build: (s): DeploySpec => ({
    type: 'deploy',
    template: s.template,
    images: { ...s.images },
    seed: { ...s.seed },
    ttlMs: s.ttl ?? DEFAULT_TTL_MS,
    healthTimeoutMs: s.health_timeout ?? DEFAULT_HEALTH_TIMEOUT_MS,
    keepOnFailure: s.keep_on_failure ?? false,
  }),
});
