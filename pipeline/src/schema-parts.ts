// Zod pieces every stage kind shares: names, env (with secret references),
// labels, durations, retry policy, container resources, and message helpers.
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.js';
import { PIPELINE_LIMITS } from './limits.js';
import { LABEL_KEY_PATTERN } from './patterns.js';

/**
 * Why a stage attempt may be retried: the agent was lost, the farm errored, the user's command failed, or it timed out.
 */
export type RetryReason = 'lost' | 'errored' | 'failed' | 'timeout';

/** All retry reasons, in documentation order. */
export const RETRY_REASONS = ['lost', 'errored', 'failed', 'timeout'] as const satisfies readonly RetryReason[];

/** Pipeline and stage names: lowercase, 1..63 chars, start with a letter or digit. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Environment variable names (`__proto__` excluded: it cannot be a plain object key). */
export const ENV_NAME_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$/;
/** Secret names (the control plane's secret store uses the same pattern). */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Agent label keys (label values are free-form strings): one pattern for every package (patterns.ts). */
export { LABEL_KEY_PATTERN };

/** Retry policy applied when a stage has no `retry` key: one more attempt if the agent was lost. */
export const DEFAULT_RETRY: Readonly<{ count: number; on: readonly RetryReason[] }> = Object.freeze({
  count: 1,
  on: Object.freeze(['lost'] as const),
});

export const nameSchema = z.string().regex(NAME_PATTERN, {
  error: (iss) => `invalid name ${quote(iss.input)}: use 1-63 of a-z 0-9 . _ - starting with a letter or digit`,
});

/** YAML scalars that become strings (numbers and booleans are coerced). */
export const scalarString = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));

/** `{ secret: NAME }` or `{ secret: NAME, file: true }`: a value from the secret store, by name. */
export const secretRefSchema = z
  .strictObject({
    secret: z
      .string()
      .regex(SECRET_NAME_PATTERN, {
        error: (iss) =>
          `invalid secret name ${quote(iss.input)}: use 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
      })
      .meta({ description: 'Name of a secret in the secret store (dockyard secret set NAME).' }),
    file: z
      .boolean()
      .optional()
      .meta({ description: 'true: the value is written to a file and the variable holds its path. Default false.' }),
  })
  .meta({ title: 'SecretRef', description: 'A value from the secret store; the file names it, never the value.' });

/** An env value: a scalar (numbers and booleans coerced to strings) or a secret reference. */
export type EnvValue = string | { secret: string; asFile: boolean };

// One flat union, so a mapping fails only the secret branch and its problems (unknown keys) surface.
const envValueSchema = z
  .union([z.string(), z.number(), z.boolean(), secretRefSchema])
  .transform((v): EnvValue => (typeof v === 'object' ? { secret: v.secret, asFile: v.file ?? false } : String(v)));

export const envSchema = z
  .record(
    z.string().regex(ENV_NAME_PATTERN, {
      error: (iss) => `invalid env name ${quote(iss.input)}: must match ^[A-Za-z_][A-Za-z0-9_]*$`,
    }),
    envValueSchema,
  )
  .meta({
    description:
      'Environment variables; numbers and booleans are coerced to strings. ' +
      'A value { secret: NAME } comes from the secret store ({ secret: NAME, file: true }: in a file whose path is the value).',
  });

export const labelsSchema = z
  .record(
    z.string().regex(LABEL_KEY_PATTERN, { error: (iss) => `invalid label key ${quote(iss.input)}` }),
    scalarString,
  )
  .meta({ description: 'Agent label selector: the stage runs only on agents carrying every pair exactly.' });

/** A duration string (see DURATION_PATTERN) in milliseconds: > 0 and <= 24h, or >= 0 with `allowZero`. */
export function durationSchemaOf(options: { allowZero?: boolean } = {}) {
  const example = options.allowZero ? '5m, or 0s for none' : '10m or 1h30m';
  return z
    .string({ error: (iss) => `expected a duration string such as ${example}, got ${typeName(iss.input)}` })
    .regex(DURATION_PATTERN, { error: (iss) => durationMessage(iss.input, options) })
    .transform((text, ctx) => {
      const parsed = parseDuration(text, options);
      if (parsed.ok) return parsed.ms;
      ctx.addIssue({ code: 'custom', message: parsed.message, input: text });
      return z.NEVER;
    });
}

export const durationSchema = durationSchemaOf().meta({
  description:
    'Stage timeout: integer + unit ms|s|m|h, combinable in descending order (1h30m); > 0 and <= 24h. Default: none.',
});

const retryCount = z
  .number()
  .int()
  .min(0)
  .max(PIPELINE_LIMITS.maxRetries)
  .meta({ description: 'Extra attempts after the first (0..10).' });

export const retryObject = z.strictObject({
  count: retryCount.optional().meta({ description: 'Extra attempts after the first (0..10). Default 1.' }),
  on: z
    .array(z.enum(RETRY_REASONS))
    .min(1)
    .optional()
    .meta({ description: "Reasons that trigger a retry. Default ['lost']." }),
});

export const retrySchema = z
  .union([retryCount, retryObject])
  .transform((v): { count: number; on: RetryReason[] } => {
    const count = typeof v === 'number' ? v : (v.count ?? DEFAULT_RETRY.count);
    const on = typeof v === 'number' ? DEFAULT_RETRY.on : (v.on ?? DEFAULT_RETRY.on);
    return { count, on: count === 0 ? [] : [...new Set(on)] };
  })
  .meta({
    description:
      "Retry policy. A number N means { count: N, on: ['lost'] }; `retry: 0` disables retries. " +
      "Default when absent depends on the type: command, build and test { count: 1, on: ['lost'] } (one more attempt if the agent is lost); " +
      'deploy none (a half-started environment is not retried behind your back). ' +
      'Reasons: lost (agent vanished), errored (the farm failed), failed (the command exited non-zero), timeout.',
  });

const MEMORY_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export const memorySchema = z
  .string({ error: (iss) => `expected a memory size such as 512m or 2g, got ${typeName(iss.input)}` })
  .regex(/^[1-9][0-9]{0,12}[kmg]?$/i, {
    error: (iss) => `invalid memory size ${quote(iss.input)}: use a number with k, m or g (binary units), e.g. 512m`,
  })
  .transform((text, ctx) => {
    const unit = /[kmg]$/i.test(text) ? text.slice(-1).toLowerCase() : '';
    const bytes = Number(unit ? text.slice(0, -1) : text) * MEMORY_UNITS[unit]!;
    if (bytes >= 6 * 1024 ** 2 && bytes <= 1024 ** 4) return bytes;
    ctx.addIssue({
      code: 'custom',
      message: `memory ${text} must be between 6m (Docker's minimum) and 1024g`,
      input: text,
    });
    return z.NEVER;
  });

export const resourcesSchema = z
  .strictObject({
    memory: memorySchema.optional().meta({ description: 'Memory limit (swap included), e.g. 512m or 2g.' }),
    cpus: z.number().gt(0).max(256).optional().meta({ description: 'CPU limit in CPUs, e.g. 1.5.' }),
    pids: z
      .number()
      .int()
      .min(16)
      .max(65_536)
      .optional()
      .meta({ description: 'Process limit (default on the agent: 512).' }),
  })
  .meta({ description: 'Container limits for the docker executor (the shell executor has none).' });

function durationMessage(input: unknown, options: { allowZero?: boolean }): string {
  const parsed = parseDuration(String(input), options);
  return parsed.ok ? 'invalid duration' : parsed.message;
}

/** A short, safe rendering of a user value for messages. */
export function quote(value: unknown): string {
  const s = String(value);
  return `'${s.length > 40 ? `${s.slice(0, 40)}…` : s}'`;
}

/** A YAML-flavoured type name for messages: mapping, sequence, string, number, boolean, null. */
export function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'sequence';
  if (value instanceof Uint8Array) return 'binary';
  if (typeof value === 'object') return 'mapping';
  return typeof value;
}
