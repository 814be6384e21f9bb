import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pipelineJsonSchema } from './json-schema.js';
import { renderSchemaFile, SCHEMA_FILE } from './write-schema.js';

test('committed schema/dockyard.schema.json equals the generated one (run write-schema.ts)', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), renderSchemaFile());
});

test('json schema is draft 2020-12 with title, descriptions and strict objects', () => {
  const schema = pipelineJsonSchema() as Record<string, any>;
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.match(schema.title, /Dockyard pipeline/);
  assert.deepEqual(schema.required, ['stages'], 'name is optional (it defaults to the directory name)');
  assert.match(schema.properties.name.description, /Optional: .*directory/);
  assert.equal(schema.additionalProperties, false);
  const stage = schema.properties.stages.additionalProperties;
  assert.equal(stage.additionalProperties, false);
  assert.match(stage.properties.retry.description, /count: 1, on: \['lost'\]/);
  assert.equal(schema.properties.stages.maxProperties, 500);
});
