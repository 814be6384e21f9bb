import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, ok } from '../parse-testing.js';

const src = (stage: string) => ['name: a', 'stages:', `  checkout: { type: ui-test, ${stage} }`, ''].join('\n');
const all = (stage: string) => lines(src(stage)).join('\n');

test('ui-test: declared steps become the spec, with defaults (journey = stage name, env, retries 1, step names)', () => {
  const p = ok(
    src(
      'url: "http://127.0.0.1:8080", threshold: 5s, expect_every: 1m, steps: [{ goto: /login }, { name: type user, fill: { selector: "#user", value: ann } }, { click: "text=Sign in" }, { expect: { text: Welcome } }, { expect: { status: 200 } }, { measure: home }]',
    ),
  );
  const s = p.stages[0]!;
  assert.deepEqual(s.spec, {
    type: 'ui-test',
    journey: 'checkout',
    env: 'default',
    service: null,
    url: 'http://127.0.0.1:8080',
    steps: [
      { action: 'goto', name: '1-goto', target: '/login' },
      { action: 'fill', name: 'type user', selector: '#user', value: 'ann' },
      { action: 'click', name: '3-click', selector: 'text=Sign in' },
      { action: 'expect', name: '4-expect', text: 'Welcome', selector: null, status: null },
      { action: 'expect', name: '5-expect', text: null, selector: null, status: 200 },
      { action: 'measure', name: 'home' },
    ],
    script: null,
    retries: 1,
    thresholdMs: 5000,
    expectEveryMs: 60_000,
  });
  assert.deepEqual(s.env, {}, 'a ui-test runs no process: its env is a name, not variables');
  const svc = ok(src('service: webapp, script: journeys/checkout.mjs, journey: buy, retries: 0')).stages[0]!;
  assert.deepEqual(
    { ...svc.spec, steps: undefined },
    {
      type: 'ui-test',
      journey: 'buy',
      env: 'webapp',
      service: 'webapp',
      url: null,
      steps: undefined,
      script: 'journeys/checkout.mjs',
      retries: 0,
      thresholdMs: null,
      expectEveryMs: null,
    },
  );
});

test('ui-test: problems name the path of the bad key', () => {
  assert.match(all('steps: [{ goto: / }]'), /ui-test needs exactly one of service \(a Dockyard service\) or url/);
  assert.match(all('url: "http://x", service: web, steps: [{ goto: / }]'), /exactly one of service/);
  assert.match(all('url: "http://x"'), /exactly one of steps \(declared steps\) or script/);
  assert.match(all('url: "ftp://x", steps: [{ goto: / }]'), /stages\.checkout\.url.*must be an http\(s\) URL/);
  assert.match(
    all('url: "http://x", steps: [{ goto: / }, { click: "" }]'),
    /stages\.checkout\.steps\[1\]\.click.*must not be empty/,
  );
  assert.match(
    all('url: "http://x", steps: [{ goto: /, click: a }]'),
    /stages\.checkout\.steps\[0\].*exactly one action, this one has goto and click/,
  );
  assert.match(all('url: "http://x", steps: [{ name: x }]'), /stages\.checkout\.steps\[0\].*a step needs one action/);
  assert.match(all('url: "http://x", steps: [{ hover: a }]'), /stages\.checkout\.steps\[0\].*hover/);
  assert.match(
    all('url: "http://x", steps: [{ expect: { text: a, status: 200 } }]'),
    /steps\[0\]\.expect.*exactly one of text, selector or status/,
  );
  assert.match(all('url: "http://x", steps: [{ expect: { status: 999 } }]'), /steps\[0\]\.expect\.status.*HTTP status/);
  assert.match(
    all('url: "http://x", steps: [{ fill: { selector: a } }]'),
    /steps\[0\]\.fill: missing required key 'value'/,
  );
  assert.match(
    all('url: "http://x", steps: [{ name: a, goto: / }, { name: a, click: b }]'),
    /steps\[1\]\.name.*'a' is used twice/,
  );
  assert.match(
    all('url: "http://x", script: ../etc/passwd'),
    /stages\.checkout\.script.*relative path inside the source/,
  );
  assert.match(all('url: "http://x", script: a.mjs, retries: 9'), /stages\.checkout\.retries.*at most 5/);
  assert.match(all('url: "http://x", script: a.mjs, threshold: soon'), /stages\.checkout\.threshold/);
  assert.match(all('service: "Web_1", script: a.mjs'), /stages\.checkout\.service.*1-63 of a-z/);
});
