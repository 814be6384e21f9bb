// `type: update-service`: roll a long-running service to a new revision across its hosts with
// no failed request, watch it for a window, and roll back on its own when it goes wrong. Runs
// on the server (a coordinator that spawns one `service-step` child per host and step); the
// service is declared in a file of the run's source, and created by its first update.
// `revision:` instead of `file:` rolls to a revision the service already had (a manual rollback).
import { z } from 'zod';
import { sourcePathSchema } from './build.js';
import { imageSchema } from './command.js';
import { defineKind } from './kind.js';

/** A service's name: it names containers, networks and the proxy, so DNS-label rules. */
export const SERVICE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
const MAX_REASON = 500;

export interface UpdateServiceSpec {
  type: 'update-service';
  service: string;
  /** The service file in the run's source; null with `revision`. */
  file: string | null;
  /** Replaces the file's image (e.g. `${{ stages.build.outputs.image }}`); null: the file's. */
  image: string | null;
  /** Roll to this earlier revision of the service instead of a file. */
  revision: number | null;
  /** Why (shown in the history): a manual rollback's reason. */
  reason: string;
}

export const updateService = defineKind({
  type: 'update-service',
  outputs: { keys: ['service', 'revision', 'previous_revision', 'addresses', 'rolled_back'] },
  source: 'reads',
  description:
    'Roll a long-running service to a new revision host by host with no failed request, watch it, and roll back on failure.',
  shape: {
    service: z
      .string()
      .regex(SERVICE_NAME_PATTERN, {
        error: 'service must be 1-63 of a-z 0-9 - starting with a letter or digit',
      })
      .meta({ description: 'The service to update; the service file must declare the same name.' }),
    file: sourcePathSchema.optional().meta({
      description: "The service file in the run's source, e.g. services/staging.yml (see service.schema.json).",
    }),
    image: imageSchema
      .optional()
      .meta({ description: "The image, replacing the file's: e.g. ${{ stages.build.outputs.image }}." }),
    revision: z
      .int({ error: 'revision must be a whole number' })
      .min(1, { error: 'revision must be at least 1' })
      .optional()
      .meta({ description: 'Roll to this earlier revision of the service instead of a file (a rollback).' }),
    reason: z
      .string()
      .max(MAX_REASON, { error: `reason must be at most ${MAX_REASON} characters` })
      .optional()
      .meta({ description: "Why, shown in the service's history." }),
  },
  check(stage, problem) {
    const hasFile = Object.hasOwn(stage, 'file');
    const hasRevision = Object.hasOwn(stage, 'revision');
    if (hasFile === hasRevision)
      problem([], false, 'update-service needs exactly one of file (a service file) or revision (an earlier revision)');
    if (hasRevision && Object.hasOwn(stage, 'image'))
      problem(['image'], true, 'image cannot be combined with revision: a revision has its own image');
  },
  build: (s): UpdateServiceSpec => ({
    type: 'update-service',
    service: s.service,
    file: s.file ?? null,
    image: s.image ?? null,
    revision: s.revision ?? null,
    reason: s.reason ?? '',
  }),
});
