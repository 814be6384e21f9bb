// The whole `dockyard.yml` (v1): pipeline-level keys around the stage union
// of kinds/. This one schema drives validation and the JSON Schema.
import { z } from 'zod';
import { PIPELINE_LIMITS } from './limits.js';
import { SECRET_NAME_PATTERN, envSchema, nameSchema, quote, retryObject, secretRefSchema } from './schema-parts.js';
import { stageSchema } from './kinds/index.js';

export {
  DEFAULT_RETRY,
  ENV_NAME_PATTERN,
  LABEL_KEY_PATTERN,
  NAME_PATTERN,
  SECRET_NAME_PATTERN,
  quote,
  typeName,
  type EnvValue,
} from './schema-parts.js';

/** Where build, deploy and test stages find the run's files. */
const sourceSchema = z
  .strictObject({
    git: z
      .string()
      .regex(/^(file|https?):\/\/\S{1,500}$/, {
        error: (iss) => `invalid git URL ${quote(iss.input)}: use file://, http:// or https://`,
      })
      .meta({ description: 'Repository URL (file://, http:// or https://).' }),
    ref: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/, { error: (iss) => `invalid git ref ${quote(iss.input)}` })
      .optional()
      .meta({ description: 'Branch, tag or commit to check out. Default: the remote HEAD.' }),
  })
  .meta({
    title: 'Source',
    description:
      "The run's files: a git repository at a ref. Without `source`, the directory the CLI runs in is uploaded (honouring .dockerignore).",
  });

/** The registry that build stages push to and that every stage pulls missing images from. */
const registrySchema = z
  .strictObject({
    address: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/, {
        error: (iss) => `invalid registry address ${quote(iss.input)}: use host[:port]`,
      })
      .meta({ description: 'host[:port], e.g. 127.0.0.1:5000.' }),
    username: z
      .string()
      .regex(/^\S{1,128}$/, { error: 'username must be 1-128 characters without spaces' })
      .optional(),
    password: z
      .string()
      .regex(SECRET_NAME_PATTERN, { error: (iss) => `invalid secret name ${quote(iss.input)}` })
      .optional()
      .meta({
        description: 'Name of the secret holding the password (dockyard secret set NAME), never the password itself.',
      }),
  })
  .meta({ title: 'Registry', description: "Overrides the server's registry (DOCKYARD_REGISTRY_*) for this pipeline." });

/**
 * Run events a pipeline-level `notify:` rule can name: the one list the parser and the server's
 * matcher share (approval stages add waiting/approved/rejected events; rollbacks add rolled_back;
 * `alert`: an alert from Alertmanager about a service the run updated or a journey it ran).
 */
export const NOTIFY_EVENTS = [
  'succeeded',
  'failed',
  'errored',
  'canceled',
  'waiting',
  'approved',
  'rejected',
  'rolled_back',
  'alert',
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];
/** A notification channel's name (`dockyard channels add NAME`). */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;
const MAX_NOTIFY_TEMPLATE = 4096;

const notifyTemplate = (what: string) =>
  z
    .string()
    .min(1)
    .max(MAX_NOTIFY_TEMPLATE, { error: `${what} template is longer than ${MAX_NOTIFY_TEMPLATE} characters` })
    .optional()
    .meta({
      description: `${what} template: {{ run.name }}, {{ run.number }}, {{ run.id }}, {{ status }}, {{ stage.name }}, {{ outputs.STAGE.NAME }}, {{ links.run }}.`,
    });

const notifyRuleSchema = z
  .strictObject({
    on: z
      .array(
        z.enum(NOTIFY_EVENTS, {
          error: (iss) => `unknown notify event ${quote(iss.input)}: use ${NOTIFY_EVENTS.join(', ')}`,
        }),
      )
      .min(1)
      .max(NOTIFY_EVENTS.length)
      .meta({ description: `Run events that send: ${NOTIFY_EVENTS.join(', ')}.` }),
    channels: z
      .array(z.string().regex(CHANNEL_NAME_PATTERN, { error: (iss) => `invalid channel name ${quote(iss.input)}` }))
      .min(1)
      .max(20)
      .meta({ description: 'Channel names (dockyard channels add NAME); each must exist when the run is submitted.' }),
    subject: notifyTemplate('Subject'),
    body: notifyTemplate('Body'),
  })
  .meta({ title: 'Notify rule', description: 'Which run events send a message to which channels.' });

export const pipelineSchema = z
  .strictObject({
    version: z.literal(1).optional().meta({ description: 'File format version; must be 1 if present.' }),
    name: nameSchema.optional().meta({
      description:
        "Pipeline name: [a-z0-9][a-z0-9._-]{0,62}. Optional: without it the run is named after the pipeline file's " +
        "directory (lowercased, other characters replaced by '-'), e.g. web-app for web-app/dockyard.yml.",
    }),
    env: envSchema
      .optional()
      .meta({ description: 'Pipeline-wide environment, merged under the env of every command and test stage.' }),
    source: sourceSchema.optional(),
    registry: registrySchema.optional(),
    notify: z.array(notifyRuleSchema).max(10).optional().meta({
      description: 'Notifications on run events: a list of { on: [events], channels: [names], subject?, body? }.',
    }),
    stages: z.record(nameSchema, stageSchema).meta({
      description: `Stages by name, run as a DAG via needs; file order is kept. 1..${PIPELINE_LIMITS.maxStages} stages.`,
      minProperties: 1,
      maxProperties: PIPELINE_LIMITS.maxStages,
    }),
  })
  .meta({
    title: 'Dockyard pipeline (dockyard.yml v1)',
    description:
      'A Dockyard pipeline: named stages of several types (command, build, deploy, test) run as a DAG on build agents.',
  });

/** Keys allowed in each strict mapping (stages: see kinds/), for "did you mean" hints. */
export const KNOWN_KEYS = {
  root: Object.keys(pipelineSchema.shape),
  retry: Object.keys(retryObject.shape),
  secret: Object.keys(secretRefSchema.shape),
  source: Object.keys(sourceSchema.shape),
  registry: Object.keys(registrySchema.shape),
  notify: Object.keys(notifyRuleSchema.shape),
} as const;

/** The zod output of {@link pipelineSchema}. */
export type PipelineInput = z.output<typeof pipelineSchema>;
