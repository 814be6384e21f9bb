import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, ok } from '../parse-testing.js';

const src = (stage: string) =>
  [
    'name: a',
    'stages:',
    '  build: { image: i, command: x }',
    `  tell: { type: notify, needs: [build], ${stage} }`,
    '',
  ].join('\n');

test('notify: channels and templates become its spec (defaults for missing templates); outputs refs are kept for the server', () => {
  const p = ok(
    src(
      'channels: [ops-hook, mail, ops-hook], subject: "built {{ run.name }}", body: "tag ${{ stages.build.outputs.tag }}"',
    ),
  );
  const tell = p.stages.find((s) => s.name === 'tell')!;
  assert.deepEqual(tell.spec, {
    type: 'notify',
    channels: ['ops-hook', 'mail'],
    subject: 'built {{ run.name }}',
    body: 'tag ${{ stages.build.outputs.tag }}',
  });
  const minimal = ok(src('channels: [ops]')).stages.find((s) => s.name === 'tell')!.spec;
  assert.equal(minimal.type, 'notify');
  assert.match((minimal as { subject: string }).subject, /\{\{ stage\.name \}\}/);
});

test('notify: clear messages for missing or bad channels, empty or long templates, retry and agent', () => {
  const all = (stage: string) => lines(src(stage)).join('\n');
  assert.match(all('subject: hi'), /missing required key 'channels'/);
  assert.match(all('channels: []'), /channels must name at least one channel/);
  assert.match(all('channels: ["no way"]'), /invalid channel name "no way"/);
  assert.match(all('channels: [ops], subject: ""'), /subject must not be empty/);
  assert.match(all(`channels: [ops], body: "${'x'.repeat(5000)}"`), /body is longer than 4096 characters/);
  assert.match(all('channels: [ops], retry: 2'), /'retry' is not allowed on a notify stage/);
  assert.match(all('channels: [ops], agent: { os: linux }'), /'agent' is not allowed on a notify stage/);
});
