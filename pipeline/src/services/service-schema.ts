// The service file's keys (snake_case, as written): one zod schema drives validation and service.schema.json.
// Defaults are applied when the definition is built (service-file.ts), so the JSON Schema shows what may be written.
import { z } from 'zod';
import type { ValuePath } from '../ast.js';
import { checked, splitShellWords } from '../compose/compose-values.js';
import { SOURCE_PATH_PATTERN } from '../kinds/build.js';
import { imageSchema } from '../kinds/command.js';
import { SERVICE_NAME_PATTERN } from '../kinds/update-service.js';
import { ENV_NAME_PATTERN, durationSchemaOf, labelsSchema, quote, secretRefSchema } from '../schema-parts.js';
import { envValueMeaning, setEnv, type ServiceEnv } from './service-env.js';

/** Bounds of a service file, checked before and while YAML is parsed (see readYamlMapping). */
export const SERVICE_FILE_LIMITS = Object.freeze({
  /** Largest accepted file, in bytes (64 KiB). */
  maxBytes: 64 * 1024,
  /** Deepest accepted nesting (a valid file needs 4). */
  maxDepth: 16,
  /** yaml's `maxAliasCount`: bounds alias expansion (billion laughs). */
  maxAliases: 50,
  /** Most mapping keys in the whole file. */
  maxKeys: 2_000,
  /** Most sequence items in the whole file. */
  maxItems: 2_000,
  /** Most problems returned; the rest are summarised in one final problem. */
  maxProblems: 100,
});

const duration = (description: string) => durationSchemaOf().optional().meta({ description });

/** A command as a list of words, or a string split into words as a shell would (no expansion, no shell run). */
const commandSchema = z.union([
  z.string().transform(checked(splitShellWords)),
  z
    .array(z.string().regex(/\S/, { error: 'a command word must not be blank' }))
    .min(1, { error: 'command must list at least one word' }),
]);

const httpCheckSchema = z
  .strictObject({
    path: z
      .string()
      .regex(/^\/[^\s]{0,1023}$/, { error: (iss) => `path ${quote(iss.input)} must start with / and have no spaces` })
      .meta({ description: 'The path requested, e.g. /health.' }),
    status: z
      .int()
      .min(100)
      .max(599)
      .optional()
      .meta({ description: 'The status a healthy replica answers. Default 200.' }),
  })
  .meta({ title: 'HTTP check', description: 'GET this path on the container port; healthy when it answers status.' });

const healthShape = {
  http: httpCheckSchema.optional(),
  command: commandSchema.optional().meta({
    description: 'Run in the container (no shell): healthy when it exits 0. A string is split into words.',
  }),
  interval: duration('Time between checks. Default 1s.'),
  timeout: duration('A check not answered within this fails. Default 2s.'),
  min_healthy_time: duration(
    'Checks must pass this long, without a failure, before the replica gets requests. Default 3s.',
  ),
};

const healthSchema = z
  .strictObject(healthShape)
  .transform((health, ctx) => {
    if (health.http && health.command) {
      ctx.addIssue({
        code: 'custom',
        path: ['command'],
        input: health.command,
        message: 'use either http or command, not both',
      });
    }
    return health;
  })
  .meta({
    title: 'Health',
    description: 'How a replica shows it is ready: http or command (or neither: running is healthy).',
  });

const updateSchema = z
  .strictObject({
    max_parallel: z
      .int()
      .min(1)
      .max(64)
      .optional()
      .meta({ description: 'Replicas replaced at once on a host (hosts roll one after another). Default 1.' }),
    watch_window: durationSchemaOf({ allowZero: true }).optional().meta({
      description:
        'After the last host: keep the old replicas warm this long and roll back if a new one fails. Default 5m; 0s: no watch.',
    }),
    health_timeout: duration('A new replica not healthy within this fails the update (rolled back). Default 60s.'),
    drain_timeout: duration("An old replica's requests in flight get this long to finish. Default 30s."),
  })
  .meta({ title: 'Update', description: 'How an update rolls (a rollback rolls the same way).' });

/** `{ secret: NAME }`: file: true is refused by name (a replica gets secrets as variables only). */
const serviceSecretRefSchema = z
  .strictObject({
    secret: secretRefSchema.shape.secret,
    file: z
      .literal(false, {
        error: 'file: true is not supported for a service: a replica gets a secret as an environment variable only',
      })
      .optional()
      .meta({ description: 'Not supported for services: a secret is always the variable itself.' }),
  })
  .meta({ title: 'SecretRef', description: 'A value from the secret store; the file names it, never the value.' });

const envSchema = z
  .record(
    z.string().regex(ENV_NAME_PATTERN, {
      error: (iss) => `invalid env name ${quote(iss.input)}: must match ^[A-Za-z_][A-Za-z0-9_]*$`,
    }),
    // One flat union, so a mapping fails only the secret branch and its problems (unknown keys) surface.
    z.union([
      z.string().superRefine((value, ctx) => {
        const meaning = envValueMeaning(value);
        if (meaning.kind === 'refused') ctx.addIssue({ code: 'custom', input: value, message: meaning.message });
      }),
      z.number(),
      z.boolean(),
      serviceSecretRefSchema,
    ]),
  )
  .transform((entries): ServiceEnv => {
    const out: ServiceEnv = { env: {}, secrets: [] };
    for (const [name, value] of Object.entries(entries)) {
      if (typeof value === 'object') {
        setEnv(out, name, { kind: 'secret', secret: value.secret });
        continue;
      }
      // A refused value was reported by the value's own schema (this transform runs only when there is none).
      const meaning = envValueMeaning(String(value));
      if (meaning.kind !== 'refused') setEnv(out, name, meaning);
    }
    return out;
  })
  .meta({
    description:
      'Environment variables, over the env file\'s. Numbers and booleans become strings; { secret: NAME } or "${{ secrets.NAME }}" is a secret.',
  });

export const serviceFileSchema = z
  .strictObject({
    name: z
      .string()
      .regex(SERVICE_NAME_PATTERN, {
        error: (iss) =>
          `invalid service name ${quote(iss.input)}: use 1-63 of a-z 0-9 - starting with a letter or digit`,
      })
      .meta({ description: "The service's name; the update-service stage's service: must be the same." }),
    image: imageSchema
      .refine((image) => !image.includes('${{'), {
        error:
          "a service file is not substituted: set an image with ${{ }} in the update-service stage's image: instead",
      })
      .optional()
      .meta({ description: "The image replicas run. Optional: the update-service stage's image: replaces it." }),
    replicas: z.int().min(1).max(64).optional().meta({
      description:
        'Replicas in all (1..64), spread over the chosen agents (the first ones by name take one more). Default 1.',
    }),
    agents: labelsSchema.optional().meta({
      description: 'Agents whose labels match all of these run the service (they need docker). Default: any.',
    }),
    hosts: z
      .int()
      .min(1)
      .optional()
      .meta({ description: 'At most this many of the matching agents (the first by name). Default: all of them.' }),
    port: z.int().min(1).max(65535).meta({ description: 'The port the service listens on inside its container.' }),
    proxy_port: z.int().min(1024).max(65535).meta({
      description: "The service's stable address on each host (1024..65535); it forwards to a healthy replica.",
    }),
    command: commandSchema
      .optional()
      .meta({ description: "Instead of the image's command: a list of words, or a string split into words." }),
    env: envSchema.optional(),
    env_file: z
      .string()
      .regex(SOURCE_PATH_PATTERN, {
        error: (iss) =>
          `env_file ${quote(iss.input)} must be a path relative to the service file's directory, without '..' (not absolute)`,
      })
      .optional()
      .meta({ description: "A dotenv file, relative to this file's directory; env: overrides its entries." }),
    health: healthSchema.optional(),
    stop_grace_period: duration('SIGTERM, then SIGKILL after this. Default 10s.'),
    update: updateSchema.optional(),
  })
  .meta({
    title: 'Dockyard service file',
    description:
      'A long-running service, rolled to a new revision by an update-service stage. Durations: integer + unit ms|s|m|h (1m30s), at most 24h.',
  });

export type ServiceFileInput = z.output<typeof serviceFileSchema>;

/** The keys a mapping at `path` may have, for a did-you-mean on an unknown key. */
export function serviceKnownKeys(path: ValuePath): readonly string[] {
  const at = path.join('.');
  if (path.length === 0) return Object.keys(serviceFileSchema.shape);
  if (at === 'health') return Object.keys(healthShape);
  if (at === 'health.http') return Object.keys(httpCheckSchema.shape);
  if (at === 'update') return Object.keys(updateSchema.shape);
  if (path.length === 2 && path[0] === 'env') return Object.keys(serviceSecretRefSchema.shape);
  return [];
}
