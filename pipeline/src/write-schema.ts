/**
 * Writes pipeline/schema/dockyard.schema.json from the zod schema.
 * Run from /work/main: `node --import tsx pipeline/src/write-schema.ts`. The committed file is
 * checked against the generator by json-schema.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipelineJsonSchema } from './json-schema.js';

/** Absolute path of the committed schema file. */
export const SCHEMA_FILE = fileURLToPath(new URL('../schema/dockyard.schema.json', import.meta.url));

/** The exact bytes of the schema file: pretty JSON plus a trailing newline. */
export function renderSchemaFile(): string {
  return `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, renderSchemaFile());
  console.log(`wrote ${SCHEMA_FILE}`);
}
