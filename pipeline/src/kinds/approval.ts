// `type: approval`: the run waits at this stage until a listed approver decides
// (dockyard approve|reject RUN STAGE) or its deadline passes. Runs on the server,
// not on an agent. Its own `timeout:` (required, up to 30 days) is the deadline;
// `on_timeout` says what the deadline means (reject, approve or skip).
import { z } from 'zod';
import { ROLES, isRole } from '../roles.js';
import { didYouMean } from '../suggest.js';
import { defineKind } from './kind.js';

/** Longest approval deadline: 30 days. */
export const MAX_APPROVAL_TIMEOUT_MS = 30 * 86_400_000;
const LONG_DURATION = /^(?=\d)(\d+d)?(\d+h)?(\d+m(?!s))?(\d+s)?(\d+ms)?$/;
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
/** `alice` (a user) or `role:approver` (anyone with the role). */
const APPROVER = /^(role:)?[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export type OnTimeout = 'reject' | 'approve' | 'skip';

export interface ApprovalSpec {
  type: 'approval';
  approvers: { users: string[]; roles: string[] };
  /** From the stage's start to its deadline. */
  timeoutMs: number;
  onTimeout: OnTimeout;
  /** The user who started the run may not decide. */
  forbidSelf: boolean;
  /** A reminder event this long before the deadline; null for none. */
  reminderMs: number | null;
  instructions: string;
}

/** A duration up to 30 days: integer + unit d|h|m|s|ms, combinable in descending order (2d12h). */
const longDuration = (what: string) =>
  z.string({ error: `expected a duration such as 30m, 4h or 2d for ${what}` }).transform((text, ctx) => {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    if (!LONG_DURATION.test(text)) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration '${shown}': expected an integer with unit d, h, m, s or ms, e.g. 30m, 4h or 2d`,
      });
      return z.NEVER;
    }
    let ms = 0;
    for (const m of text.matchAll(/(\d+)(ms|d|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
    if (ms <= 0) ctx.addIssue({ code: 'custom', message: `duration '${shown}' must be greater than 0` });
    else if (ms > MAX_APPROVAL_TIMEOUT_MS)
      ctx.addIssue({ code: 'custom', message: `${what} '${shown}' exceeds the maximum of 30 days` });
    return ms;
  });

export const approval = defineKind({
  type: 'approval',
  ownsTimeout: true,
  outputs: { keys: ['decision', 'decided_by', 'via', 'comment'] },
  description:
    'Wait for a listed approver to approve or reject (dockyard approve|reject RUN STAGE), up to a deadline. Runs on the server.',
  shape: {
    approvers: z
      .array(
        z.string().regex(APPROVER, {
          error: (iss) =>
            `invalid approver ${JSON.stringify(String(iss.input)).slice(0, 60)}: a user name or role:NAME`,
        }),
        { error: 'approvers must be a list such as [alice, role:approver]' },
      )
      .min(1, { error: 'approvers must name at least one user or role' })
      .max(50, { error: 'at most 50 approvers' })
      .meta({
        description: `Who may decide: user names and roles written role:NAME (${ROLES.join(', ')}), e.g. [alice, role:approver].`,
      }),
    timeout: longDuration('timeout').meta({
      description:
        'How long the stage waits for a decision, from its start (required; up to 30d): integer + unit d|h|m|s|ms, e.g. 4h or 2d.',
    }),
    on_timeout: z
      .enum(['reject', 'approve', 'skip'], { error: 'on_timeout must be reject, approve or skip' })
      .optional()
      .meta({
        description:
          'What the deadline means: reject (default; the stage fails), approve (it succeeds) or skip (it is skipped, and so are its dependents but those that need it with if_skipped: continue; a skip does not fail the run).',
      }),
    forbid_self: z
      .boolean()
      .optional()
      .meta({ description: 'The user who started the run may not decide. Default false.' }),
    reminder: longDuration('reminder').optional().meta({
      description: 'Write a reminder event this long before the deadline (e.g. 10m); must be shorter than timeout.',
    }),
    instructions: z
      .string()
      .max(2000, { error: 'instructions are at most 2000 characters' })
      .optional()
      .meta({ description: 'Text shown to approvers; may use ${{ stages.X.outputs.K }}.' }),
  },
  skipsItself: { when: (stage) => stage.on_timeout === 'skip', how: "an approval stage with 'on_timeout: skip'" },
  check(stage, problem) {
    if (!Object.hasOwn(stage, 'timeout'))
      problem([], true, "missing required key 'timeout' (how long the approval waits, e.g. 4h)");
    for (const key of ['retry', 'agent']) {
      if (Object.hasOwn(stage, key))
        problem([key], true, `'${key}' is not allowed on an approval stage (it runs on the server, once)`);
    }
    // Only the real roles can ever match a user: an unknown one would leave the stage waiting for nobody.
    if (Array.isArray(stage.approvers)) {
      stage.approvers.forEach((a: unknown, i) => {
        if (typeof a !== 'string' || !APPROVER.test(a) || !a.startsWith('role:')) return;
        const role = a.slice('role:'.length);
        if (!isRole(role)) {
          problem(
            ['approvers', i],
            false,
            `unknown role '${role}'${didYouMean(role, ROLES)}: the roles are ${ROLES.join(', ')}`,
          );
        }
      });
    }
    const t = typeof stage.timeout === 'string' ? parseLong(stage.timeout) : null;
    const r = typeof stage.reminder === 'string' ? parseLong(stage.reminder) : null;
    if (t !== null && r !== null && r >= t) problem(['reminder'], false, 'reminder must be shorter than timeout');
  },
  build: (s): ApprovalSpec => ({
    type: 'approval',
    approvers: {
      users: s.approvers.filter((a) => !a.startsWith('role:')),
      roles: s.approvers.filter((a) => a.startsWith('role:')).map((a) => a.slice('role:'.length)),
    },
    timeoutMs: s.timeout,
    onTimeout: s.on_timeout ?? 'reject',
    forbidSelf: s.forbid_self ?? false,
    reminderMs: s.reminder ?? null,
    instructions: s.instructions ?? '',
  }),
});

function parseLong(text: string): number | null {
  if (!LONG_DURATION.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|d|h|m|s)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
  return ms;
}
