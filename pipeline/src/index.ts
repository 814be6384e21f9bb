/**
 * @dockyard/pipeline: parse and validate `dockyard.yml` (v1), the pipeline file of Dockyard, and the service files
 * (with their env files) that its update-service stages roll out.
 *
 * `parsePipeline` never throws; it returns a normalised {@link PipelineSpec} or every
 * {@link Problem} with line and column. `formatProblems` renders them for humans.
 */
export type {
  ParseResult,
  PipelineSpec,
  Problem,
  NotifyRule,
  RegistrySpec,
  RetryReason,
  SecretRef,
  SourceSpec,
  StageDef,
  StageResources,
} from './types.js';
export {
  STAGE_TYPES,
  type StageType,
  type KindSpec,
  type BuildSpec,
  type CommandSpec,
  type DeploySpec,
  type TestSpec,
  type ApprovalSpec,
  type NotifySpec,
  type UpdateServiceSpec,
  type ServiceStepSpec,
  type PipelineStageType,
} from './kinds/index.js';
export type { ServiceStepTarget } from './kinds/service-step.js';
export { SERVICE_NAME_PATTERN } from './kinds/update-service.js';
export { UI_TEST_OUTPUTS, type UiTestSpec, type UiStep } from './kinds/ui-test.js';
export type {
  ServiceDefinition,
  ServiceHealth,
  ServiceRevisionSpec,
  ServiceSecretRef,
  ServiceUpdatePolicy,
} from './services/types.js';
export { parseServiceFile, SERVICE_DEFAULTS, type ServiceFileResult } from './services/service-file.js';
export { SERVICE_FILE_LIMITS } from './services/service-schema.js';
export { parseEnvFile, ENV_FILE_LIMITS, type EnvFileResult } from './services/env-file.js';
export type { ServiceEnv } from './services/service-env.js';
export {
  envFilePathOf,
  revisionSpecOf,
  serviceDefinition,
  type RevisionSpecResult,
  type ServiceDefinitionOptions,
  type ServiceDefinitionResult,
} from './services/service-definition.js';
export { formatServiceProblems, type ServiceProblem } from './services/service-problems.js';
export { serviceJsonSchema, SERVICE_SCHEMA_ID } from './services/service-json-schema.js';
export { sourceUseOf, secretsKeyOf } from './kinds/traits.js';
export { ROLES, isRole, type Role } from './roles.js';
export { MAX_APPROVAL_TIMEOUT_MS, type OnTimeout } from './kinds/approval.js';
export {
  BUILTIN_VARIABLES,
  SubstitutionError,
  referencedStages,
  referencesIn,
  substitute,
  substituteDeep,
  type BuiltinVariable,
  type Reference,
  type Resolver,
} from './expressions.js';
export { RETRY_REASONS } from './types.js';
export { parsePipeline, type ParseOptions } from './parse.js';
export { formatProblems } from './format.js';
export { pipelineJsonSchema, PIPELINE_SCHEMA_ID } from './json-schema.js';
export { topologicalOrder } from './dag.js';
export { PIPELINE_LIMITS, type PipelineLimits } from './limits.js';
export { parseDuration } from './duration.js';
export { DEFAULT_RETRY, SECRET_NAME_PATTERN, NOTIFY_EVENTS, CHANNEL_NAME_PATTERN, type NotifyEvent } from './schema.js';
export { LABEL_KEY_PATTERN, LABEL_KEY_RULE } from './patterns.js';
export { DockyardError, InvalidStageGraphError, type DockyardErrorCode } from './errors.js';
export {
  parseComposeTemplate,
  type ComposeTemplate,
  type ComposeService,
  type ComposeHealthcheck,
  type ComposePort,
  type ComposeVolumeMount,
  type ComposeProblem,
  type DependsOnCondition,
  type ParseComposeResult,
} from './compose/compose-template.js';
