import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderServiceSchemaFile, SERVICE_SCHEMA_FILE } from '../write-schema.js';
import { SERVICE_SCHEMA_ID, serviceJsonSchema } from './service-json-schema.js';

test('committed schema/service.schema.json equals the generated one (run write-schema.ts)', () => {
  assert.equal(readFileSync(SERVICE_SCHEMA_FILE, 'utf8'), renderServiceSchemaFile());
});

test('service schema: draft 2020-12, strict objects, required keys, a description on every key', () => {
  const schema = serviceJsonSchema() as Record<string, any>;
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema.$id, SERVICE_SCHEMA_ID);
  assert.equal(schema.title, 'Dockyard service file');
  assert.deepEqual(schema.required, ['name', 'port', 'proxy_port']);
  const undescribed: string[] = [];
  const walk = (node: Record<string, any>, path: string): void => {
    if (node.type === 'object' && node.properties) assert.equal(node.additionalProperties, false, `${path} is strict`);
    for (const [key, value] of Object.entries((node.properties ?? {}) as Record<string, any>)) {
      if (typeof value.description !== 'string' || value.description === '') undescribed.push(`${path}${key}`);
      walk(value, `${path}${key}.`);
    }
  };
  walk(schema, '');
  assert.deepEqual(undescribed, []);
  assert.match(schema.properties.update.properties.watch_window.description, /Default 5m; 0s: no watch/);
});
