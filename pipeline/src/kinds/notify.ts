// `type: notify`: sends one message (subject and body templates) to the named channels, then
// succeeds. Runs on the server: the messages go to the notifications outbox in the
// transaction that ends the stage, and the outbox delivers (and retries) them. Templates use
// the notify syntax ({{ run.name }}, {{ status }}, {{ outputs.STAGE.KEY }}, {{ links.run }})
// and ${{ stages.X.outputs.K }}, substituted when the stage starts.
import { z } from 'zod';
import { defineKind } from './kind.js';

/** A notification channel's name (`dockyard channels add NAME`); the same rule as the pipeline-level `notify:`. */
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const MAX_TEMPLATE = 4096;
export const DEFAULT_NOTIFY_STAGE_SUBJECT = '[dockyard] {{ run.name }} #{{ run.number }}: {{ stage.name }}';
export const DEFAULT_NOTIFY_STAGE_BODY =
  'Run {{ run.name }} #{{ run.number }} ({{ run.id }}) is {{ status }}; stage {{ stage.name }}.\n{{ links.run }}';

export interface NotifySpec {
  type: 'notify';
  channels: string[];
  subject: string;
  body: string;
}

const template = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(MAX_TEMPLATE, { error: `${what} is longer than ${MAX_TEMPLATE} characters` })
    .optional();

export const notify = defineKind({
  type: 'notify',
  outputs: { keys: ['message_ids', 'channels'] },
  description:
    'Send a message (subject and body templates) to notification channels, then succeed. Runs on the server.',
  shape: {
    channels: z
      .array(
        z.string().regex(CHANNEL_NAME, {
          error: (iss) => `invalid channel name ${JSON.stringify(String(iss.input)).slice(0, 60)}`,
        }),
        {
          error: 'channels must be a list of channel names such as [ops-hook]',
        },
      )
      .min(1, { error: 'channels must name at least one channel' })
      .max(20, { error: 'at most 20 channels' })
      .meta({ description: 'Channel names (dockyard channels add NAME); each must exist when the run is submitted.' }),
    subject: template('subject').meta({
      description: `Subject template (default ${DEFAULT_NOTIFY_STAGE_SUBJECT}): {{ run.name }}, {{ run.number }}, {{ run.id }}, {{ status }}, {{ stage.name }}, {{ outputs.STAGE.NAME }}, {{ links.run }}, and \${{ stages.X.outputs.K }}.`,
    }),
    body: template('body').meta({ description: 'Body template: the same placeholders as subject.' }),
  },
  check(stage, problem) {
    for (const key of ['retry', 'agent']) {
      if (Object.hasOwn(stage, key))
        problem(
          [key],
          true,
          `'${key}' is not allowed on a notify stage (it runs on the server; the outbox retries deliveries)`,
        );
    }
    if (!Object.hasOwn(stage, 'channels'))
      problem([], true, "missing required key 'channels' (the channels to send to, e.g. [ops-hook])");
  },
  build: (s): NotifySpec => ({
    type: 'notify',
    channels: [...new Set(s.channels)],
    subject: s.subject ?? DEFAULT_NOTIFY_STAGE_SUBJECT,
    body: s.body ?? DEFAULT_NOTIFY_STAGE_BODY,
  }),
});
