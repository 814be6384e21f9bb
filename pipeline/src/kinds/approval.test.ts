import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lines, ok } from '../parse-testing.js';

const src = (stage: string) =>
  [
    'name: a',
    'stages:',
    '  build: { image: i, command: x }',
    `  gate: { type: approval, needs: [build], ${stage} }`,
    '',
  ].join('\n');

test('approval: keys become its spec; its timeout is its own deadline (up to 30 days), not a stage timeout', () => {
  const p = ok(
    src(
      'approvers: [alice, "role:approver"], timeout: 2d, on_timeout: skip, forbid_self: true, reminder: 1h, instructions: "ship ${{ stages.build.outputs.tag }}?"',
    ),
  );
  const gate = p.stages.find((s) => s.name === 'gate')!;
  assert.equal(gate.timeoutMs, null);
  assert.deepEqual(gate.spec, {
    type: 'approval',
    approvers: { users: ['alice'], roles: ['approver'] },
    timeoutMs: 2 * 86_400_000,
    onTimeout: 'skip',
    forbidSelf: true,
    reminderMs: 3_600_000,
    instructions: 'ship ${{ stages.build.outputs.tag }}?',
  });
  const minimal = ok(src('approvers: [bob], timeout: 2s')).stages.find((s) => s.name === 'gate')!;
  assert.deepEqual(minimal.spec, {
    type: 'approval',
    approvers: { users: ['bob'], roles: [] },
    timeoutMs: 2000,
    onTimeout: 'reject',
    forbidSelf: false,
    reminderMs: null,
    instructions: '',
  });
});

test('approval: clear messages for a missing or too long timeout, bad approvers, on_timeout and reminder', () => {
  const all = (stage: string) => lines(src(stage)).join('\n');
  assert.match(all('approvers: [alice]'), /missing required key 'timeout'/);
  assert.match(all('approvers: [alice], timeout: 31d'), /timeout '31d' exceeds the maximum of 30 days/);
  assert.match(all('approvers: [alice], timeout: soon'), /invalid duration 'soon'/);
  assert.match(all('approvers: [], timeout: 1h'), /approvers must name at least one user or role/);
  assert.match(all('approvers: ["al ice"], timeout: 1h'), /invalid approver "al ice"/);
  assert.match(all('approvers: [alice], timeout: 1h, on_timeout: maybe'), /on_timeout must be reject, approve or skip/);
  assert.match(all('approvers: [alice], timeout: 1h, reminder: 2h'), /reminder must be shorter than timeout/);
  assert.match(all('approvers: [alice], timeout: 1h, retry: 2'), /'retry' is not allowed on an approval stage/);
});

test('approval: an unknown role is refused at its path, with the closest real role', () => {
  assert.deepEqual(lines(src('approvers: [alice, "role:aprover"], timeout: 1h')), [
    "dockyard.yml:4:62: stages.gate.approvers[1]: unknown role 'aprover' (did you mean 'approver'?): the roles are viewer, operator, approver, admin",
  ]);
  // Nothing close: no hint, still the list.
  assert.deepEqual(lines(src('approvers: ["role:release-managers"], timeout: 1h')), [
    "dockyard.yml:4:55: stages.gate.approvers[0]: unknown role 'release-managers': the roles are viewer, operator, approver, admin",
  ]);
  assert.match(
    lines(src('approvers: ["role:Admin"], timeout: 1h')).join('\n'),
    /unknown role 'Admin' \(did you mean 'admin'\?\)/,
  );
  // Every real role is accepted (user names are never checked: users come and go).
  const roles = ok(
    src('approvers: ["role:viewer", "role:operator", "role:approver", "role:admin", zed], timeout: 1h'),
  ).stages.find((s) => s.name === 'gate')!;
  assert.deepEqual(roles.spec.type === 'approval' && roles.spec.approvers, {
    users: ['zed'],
    roles: ['viewer', 'operator', 'approver', 'admin'],
  });
});
