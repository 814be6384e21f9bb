// `type: test`: a one-time test container whose exit code decides the stage,
// optionally on a temporary environment's network (a `deploy` stage it needs),
// with JUnit counts as outputs (passed, failed, skipped, errors, total).
import { z } from 'zod';
import { envSchema, nameSchema, resourcesSchema } from '../schema-parts.js';
import { checkCommands, commandList, commandsShape, imageSchema, toResources, type StageResources } from './command.js';
import { defineKind } from './kind.js';
import { deploy } from './deploy.js';
import { isPlainObject } from '../ast.js';

export interface TestSpec {
  type: 'test';
  image: string;
  /** Empty: the image's own command. */
  commands: string[];
  /** The deploy stage whose environment the container joins; null for none. */
  environment: string | null;
  /** Path of a JUnit XML report inside the container, read after it exits. */
  junit: string | null;
  resources: StageResources;
}

export const test = defineKind({
  type: 'test',
  outputs: { keys: ['exit_code', 'passed', 'failed', 'skipped', 'errors', 'total'] },
  source: 'reads',
  description:
    "A one-time test container, optionally on a deploy stage's temporary environment; its exit code decides.",
  shape: {
    image: imageSchema.meta({ description: 'Test image; may name an image an earlier build stage pushed.' }),
    ...commandsShape,
    environment: nameSchema.optional().meta({
      description: 'A deploy stage this stage needs: the container joins its network and reaches services by name.',
    }),
    junit: z
      .string()
      .regex(/^\/[^\0]{0,254}$/, { error: 'junit must be an absolute path inside the container' })
      .optional()
      .meta({
        description:
          'JUnit XML report written by the tests; its counts become outputs (passed, failed, skipped, errors, total).',
      }),
    env: envSchema.optional().meta({ description: 'Stage environment, merged over the pipeline env.' }),
    resources: resourcesSchema.optional(),
  },
  check(stage, problem) {
    if (Object.hasOwn(stage, 'command') && Object.hasOwn(stage, 'commands')) checkCommands(stage, problem);
    const env = stage.environment;
    const needs = Array.isArray(stage.needs) ? stage.needs : [];
    if (typeof env === 'string' && !needs.includes(env)) {
      problem(['environment'], false, `environment '${env}' must be a deploy stage listed in needs`);
    }
  },
  checkWithOthers(stage, stages, problem) {
    const env = stage.environment;
    const target = typeof env === 'string' && Object.hasOwn(stages, env) ? stages[env] : undefined;
    if (isPlainObject(target) && target.type !== deploy.type)
      problem(['environment'], false, `environment '${env as string}' is not a deploy stage`);
  },
  build: (s): TestSpec => ({
    type: 'test',
    image: s.image,
    commands: commandList(s),
    environment: s.environment ?? null,
    junit: s.junit ?? null,
    resources: toResources(s.resources),
  }),
});
