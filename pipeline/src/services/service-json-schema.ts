import { z } from 'zod';
import { serviceFileSchema } from './service-schema.js';

/** Where the generated schema is published (also its `$id`). */
export const SERVICE_SCHEMA_ID = 'https://dockyard.dev/schema/service.schema.json';

/**
 * JSON Schema (draft 2020-12) of a service file, generated from the zod schema the parser uses (input side: what may
 * be written; defaults are in the descriptions). Rules across keys (http or command, not both) are in the text and
 * enforced only by parseServiceFile.
 */
export function serviceJsonSchema(): object {
  const schema = z.toJSONSchema(serviceFileSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  return { $schema: schema.$schema, $id: SERVICE_SCHEMA_ID, ...schema };
}
