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
  const kinds = schema.properties.stages.additionalProperties.oneOf as Record<string, any>[];
  assert.deepEqual(
    kinds.map((k) => k.properties.type.const),
    ['command', 'build', 'deploy', 'test', 'approval', 'notify', 'update-service', 'ui-test'],
  );
  for (const stage of kinds) assert.equal(stage.additionalProperties, false);
  assert.deepEqual(
    kinds.map((k) => k.required ?? []).map((r: string[]) => r.includes('type')),
    [false, true, true, true, true, true, true, true],
    'type defaults to command',
  );
  assert.match(kinds[0]!.properties.retry.description, /command, build and test \{ count: 1, on: \['lost'\] \}/);
  assert.equal(schema.properties.stages.maxProperties, 500);
});
