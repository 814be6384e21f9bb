// The registry of stage kinds: adding a kind is its module and one line in KINDS below.
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
import { updateService, type UpdateServiceSpec } from './update-service.js';
import { serviceStep, type ServiceStepSpec } from './service-step.js';
import { uiTest, type UiTestSpec } from './ui-test.js';
import type { KindDefinition } from './kind.js';

/**
 * THE registry: adding a kind is its module (kinds/NAME.ts, made with defineKind) and one entry
 * here. The stage types, the spec union, the per-kind stage schemas and their union all derive
 * from it; key order is the order of the JSON Schema's alternatives and of the docs.
 */
export const KINDS = {
  command,
  build,
  deploy,
  test,
  approval,
  notify,
  'update-service': updateService,
  'ui-test': uiTest,
  'service-step': serviceStep,
} as const;

type Kinds = typeof KINDS;
/** Every kind's type, internal ones (spawned by a server kind) included. */
export type StageType = keyof Kinds;
/** The kinds a pipeline may name (`type:`): all but the internal ones. */
export type PipelineStageType = Exclude<StageType, 'service-step'>;
export const STAGE_TYPES = (Object.keys(KINDS) as StageType[]).filter(
  (t): t is PipelineStageType => !(KINDS[t] as { internal?: boolean }).internal,
);

/** The kind-specific part of a stage of type `T` (what its module's `build` returns). */
export type SpecOf<T extends StageType> = ReturnType<Kinds[T]['build']>;
/** The kind-specific part of a stage, by type: the union of every kind's spec. */
export type KindSpec = { [T in StageType]: SpecOf<T> }[StageType];
// The specs other packages name (a new kind's spec is SpecOf<'its-type'> without a line here).
export type {
  ApprovalSpec,
  BuildSpec,
  CommandSpec,
  DeploySpec,
  NotifySpec,
  TestSpec,
  UpdateServiceSpec,
  ServiceStepSpec,
  UiTestSpec,
};

/** Any kind, seen through the general definition: its optional hooks read whatever the type. */
export type AnyKind = KindDefinition<StageType, z.ZodRawShape, KindSpec>;
/** The kind of `type`, as {@link AnyKind} (no cast at each optional hook). */
export function kindFor(type: StageType): AnyKind {
  return KINDS[type] as unknown as AnyKind;
}

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

function stageSchemaOf<T extends PipelineStageType>(type: T) {
  const kind: Kinds[T] = KINDS[type];
  const typeKey = z.literal(type).meta({ description: `Stage type: ${kind.description}` });
  return z
    .strictObject({ type: type === 'command' ? typeKey.optional() : typeKey, ...commonStageShape, ...kind.shape })
    .meta({ title: `Stage (type: ${type})`, description: kind.description });
}

type StageSchemaOf<T extends PipelineStageType> = ReturnType<typeof stageSchemaOf<T>>;

/** Each pipeline kind's stage schema: its keys plus the common ones, by type. */
export const stageSchemas = Object.fromEntries(STAGE_TYPES.map((t) => [t, stageSchemaOf(t)])) as {
  [T in PipelineStageType]: StageSchemaOf<T>;
};

type AnyStageSchema = { [T in PipelineStageType]: StageSchemaOf<T> }[PipelineStageType];
/** The stage schema: the discriminated union (on `type`) of every kind's, in registry order. */
export const stageSchema = z.discriminatedUnion(
  'type',
  STAGE_TYPES.map((t) => stageSchemas[t]) as unknown as readonly [AnyStageSchema, ...AnyStageSchema[]],
);

/** The kind of a raw stage mapping (`command` when `type` is absent); undefined for an unknown type. */
export function kindOf(stage: Record<string, unknown>): PipelineStageType | undefined {
  const type = stage.type ?? 'command';
  return typeof type === 'string' && (STAGE_TYPES as string[]).includes(type) ? (type as PipelineStageType) : undefined;
}

/** Keys allowed in a stage of `type`, for "did you mean" hints. */
export function stageKeys(type: PipelineStageType): readonly string[] {
  return Object.keys(stageSchemas[type].shape);
}
