// The registry of stage kinds: adding a kind is its module and one line here.
// The stage schema is the discriminated union of every kind's keys plus the
// keys all stages share; `type` may be omitted for `command`.
import { z } from 'zod';
import { needSchema } from '../needs.js';
import { labelsSchema, durationSchema, retrySchema } from '../schema-parts.js';
import { approval, type ApprovalSpec } from './approval.js';
import { build, type BuildSpec } from './build.js';
import { command, type CommandSpec } from './command.js';
import { deploy, type DeploySpec } from './deploy.js';
import { notify, type NotifySpec } from './notify.js';
import { test, type TestSpec } from './test.js';

export const KINDS = { command, build, deploy, test, approval, notify } as const;
export type StageType = keyof typeof KINDS;
export const STAGE_TYPES = Object.keys(KINDS) as StageType[];

/** The kind-specific part of a stage, by type. */
export type KindSpec = CommandSpec | BuildSpec | DeploySpec | TestSpec | ApprovalSpec | NotifySpec;
export type { ApprovalSpec, BuildSpec, CommandSpec, DeploySpec, NotifySpec, TestSpec };

/** Keys every stage has, whatever its type. */
export const commonStageShape = {
  needs: z
    .array(needSchema)
    .optional()
    .meta({
      description:
        'Stages that must succeed before this one starts: names, or { stage: NAME, if_skipped: continue } to run also when ' +
        'that stage skips itself (an approval with on_timeout: skip). Must name existing stages and form no cycle.',
    }),
  timeout: durationSchema.optional(),
  retry: retrySchema.optional(),
  agent: labelsSchema.optional(),
};

function stageSchemaOf<T extends StageType>(type: T) {
  const kind = KINDS[type];
  const typeKey = z.literal(type).meta({ description: `Stage type: ${kind.description}` });
  return z
    .strictObject({ type: type === 'command' ? typeKey.optional() : typeKey, ...commonStageShape, ...kind.shape })
    .meta({ title: `Stage (type: ${type})`, description: kind.description });
}

export const stageSchemas = {
  command: stageSchemaOf('command'),
  build: stageSchemaOf('build'),
  deploy: stageSchemaOf('deploy'),
  test: stageSchemaOf('test'),
  approval: stageSchemaOf('approval'),
  notify: stageSchemaOf('notify'),
};

export const stageSchema = z.discriminatedUnion('type', [
  stageSchemas.command,
  stageSchemas.build,
  stageSchemas.deploy,
  stageSchemas.test,
  stageSchemas.approval,
  stageSchemas.notify,
]);

/** The kind of a raw stage mapping (`command` when `type` is absent); undefined for an unknown type. */
export function kindOf(stage: Record<string, unknown>): StageType | undefined {
  const type = stage.type ?? 'command';
  return typeof type === 'string' && Object.hasOwn(KINDS, type) ? (type as StageType) : undefined;
}

/** Keys allowed in a stage of `type`, for "did you mean" hints. */
export function stageKeys(type: StageType): readonly string[] {
  return Object.keys(stageSchemas[type].shape);
}
