// One entry of a stage's `needs`: a stage name, or `{ stage: NAME, if_skipped: continue }`
// (GitLab's `needs: [{ job, optional }]`, Buildkite's allow_dependency_failure are the peers).
// `if_skipped` says what this stage does when that stage skipped itself (an approval whose
// deadline passed with `on_timeout: skip`): `skip` (the default: skipped too) or `continue`
// (it runs as if that stage had succeeded; the run can still succeed). A stage skipped
// because one of its own needs did not succeed stops its dependents whatever they say.
import { z } from 'zod';
import { isPlainObject } from './ast.js';
import { nameSchema } from './schema-parts.js';

export const IF_SKIPPED = ['skip', 'continue'] as const;
export type IfSkipped = (typeof IF_SKIPPED)[number];

export const needObject = z
  .strictObject({
    stage: nameSchema.meta({ description: 'The stage this one needs.' }),
    if_skipped: z
      .enum(IF_SKIPPED, {
        error: (iss) => `if_skipped must be skip or continue, got ${JSON.stringify(iss.input)?.slice(0, 40) ?? 'null'}`,
      })
      .optional()
      .meta({
        description:
          'When that stage skips itself (an approval with on_timeout: skip): skip (default) skips this stage too; ' +
          'continue runs it as if that stage had succeeded.',
      }),
  })
  .meta({ title: 'Need', description: 'A stage this one needs, with what to do if it skips itself.' });

export const needSchema = z.union([nameSchema, needObject]);

/** Keys of a need mapping, for "did you mean" hints. */
export const NEED_KEYS = Object.keys(needObject.shape);

/** The stage a raw `needs` entry names (a string, or a mapping's `stage`); undefined when it names none. */
export function needName(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (isPlainObject(entry) && typeof entry.stage === 'string') return entry.stage;
  return undefined;
}

/** The path of a raw need's stage name, relative to the `needs` entry. */
export function needNamePath(entry: unknown): PropertyKey[] {
  return typeof entry === 'string' ? [] : ['stage'];
}
