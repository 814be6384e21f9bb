// The compact-line rules of readProgress, on a stream of the engine's own event shapes
// (copied from a real push and pull against dockerd 20.10).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import { readProgress } from './registry-progress.js';

const events = [
  { status: 'The push refers to repository [127.0.0.1:5000/probe/app]' },
  { status: 'Preparing', progressDetail: {}, id: 'c9ee8fbf2bb3' },
  { status: 'Pushing', progressDetail: { current: 512, total: 2000000 }, progress: '[>   ]', id: 'c9ee8fbf2bb3' },
  { status: 'Pushing', progressDetail: { current: 1024, total: 2000000 }, progress: '[=>  ]', id: 'c9ee8fbf2bb3' },
  { status: 'Pushed', progressDetail: {}, id: 'c9ee8fbf2bb3' },
  { status: '1: digest: sha256:5419 size: 736' },
  { progressDetail: {}, aux: { Tag: '1', Digest: 'sha256:5419', Size: 736 } },
];

it('gives one line per layer status change and keeps the aux digest', async () => {
  // Split mid-line on purpose: the engine's chunks do not follow line ends.
  const text = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const chunks = [text.slice(0, 40), text.slice(40, 170), text.slice(170)].map((s) => Buffer.from(s));
  const lines: string[] = [];
  const result = await readProgress(Readable.from(chunks), (l) => lines.push(l));
  assert.deepEqual(lines, [
    'The push refers to repository [127.0.0.1:5000/probe/app]',
    'c9ee8fbf2bb3: Preparing',
    'c9ee8fbf2bb3: Pushing',
    'c9ee8fbf2bb3: Pushed',
    '1: digest: sha256:5419 size: 736',
  ]);
  assert.deepEqual(result, { aux: { Tag: '1', Digest: 'sha256:5419', Size: 736 } });
});

it('keeps the first in-band error and prints no line for it', async () => {
  const text = [
    { status: 'Preparing', id: 'c9ee8fbf2bb3' },
    { errorDetail: { message: 'no basic auth credentials' }, error: 'no basic auth credentials' },
    { errorDetail: { message: 'later' }, error: 'later' },
  ]
    .map((e) => JSON.stringify(e))
    .join('\r\n');
  const lines: string[] = [];
  const result = await readProgress(Readable.from([Buffer.from(text)]), (l) => lines.push(l));
  assert.deepEqual(lines, ['c9ee8fbf2bb3: Preparing']);
  assert.deepEqual(result, { error: 'no basic auth credentials' });
});
