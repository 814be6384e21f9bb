/**
 * @dockyard/pipeline: parse and validate `dockyard.yml` (v1), the pipeline file of Dockyard.
 *
 * `parsePipeline` never throws; it returns a normalised {@link PipelineSpec} or every
 * {@link Problem} with line and column. `formatProblems` renders them for humans.
 */
export type { ParseResult, PipelineSpec, Problem, RetryReason, SecretRef, StageDef, StageResources } from './types.js';
export { RETRY_REASONS } from './types.js';
export { parsePipeline, type ParseOptions } from './parse.js';
export { formatProblems } from './format.js';
export { pipelineJsonSchema, PIPELINE_SCHEMA_ID } from './json-schema.js';
export { topologicalOrder } from './dag.js';
export { PIPELINE_LIMITS, type PipelineLimits } from './limits.js';
export { parseDuration } from './duration.js';
export { DEFAULT_RETRY, SECRET_NAME_PATTERN } from './schema.js';
export { DockyardError, InvalidStageGraphError, type DockyardErrorCode } from './errors.js';
