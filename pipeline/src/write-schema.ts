/**
 * Writes pipeline/schema/dockyard.schema.json and pipeline/schema/service.schema.json from the zod schemas.
 * Run from the repository root: `node --import tsx pipeline/src/write-schema.ts`. The committed files are checked
 * against the generators by json-schema.test.ts and services/service-json-schema.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipelineJsonSchema } from './json-schema.js';
import { serviceJsonSchema } from './services/service-json-schema.js';

/** Absolute path of the committed schema file. */
export const SCHEMA_FILE = fileURLToPath(new URL('../schema/dockyard.schema.json', import.meta.url));
/** Absolute path of the committed service file schema. */
export const SERVICE_SCHEMA_FILE = fileURLToPath(new URL('../schema/service.schema.json', import.meta.url));

/** The exact bytes of the schema file: pretty JSON plus a trailing newline. */
export function renderSchemaFile(): string {
  return `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
}

/** The exact bytes of the service file schema: pretty JSON plus a trailing newline. */
export function renderServiceSchemaFile(): string {
  return `${JSON.stringify(serviceJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, renderSchemaFile());
  writeFileSync(SERVICE_SCHEMA_FILE, renderServiceSchemaFile());
  console.log(`wrote ${SCHEMA_FILE} and ${SERVICE_SCHEMA_FILE}`);
}
