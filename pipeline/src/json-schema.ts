import { z } from 'zod';
import { pipelineSchema } from './schema.js';

/** Where the generated schema is published (also its `$id`). */
export const PIPELINE_SCHEMA_ID = 'https://dockyard.dev/schema/dockyard.schema.json';

/**
 * JSON Schema (draft 2020-12) of `dockyard.yml`, generated from the same zod schema the parser
 * uses (input side: what may be written, with defaults documented). Editors use it for
 * completion; cross-field rules (command xor commands, image unless shell, needs graph) are
 * described in the text and enforced only by {@link parsePipeline}.
 */
export function pipelineJsonSchema(): object {
  const schema = z.toJSONSchema(pipelineSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  return { $schema: schema.$schema, $id: PIPELINE_SCHEMA_ID, ...schema };
}
