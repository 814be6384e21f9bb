// `type: ui-test`: a browser journey (declared steps or a script in the run's source) run in
// headless Chromium on an agent with the `browser` capability, against a URL or a Dockyard
// service (one of its host proxies, chosen at assignment). A failed journey is retried
// `retries` times before it counts; each run's result is pushed as dockyard_synthetic_* metrics.
import { z } from 'zod';
import { durationSchemaOf, nameSchema } from '../schema-parts.js';
import { sourcePathSchema } from './build.js';
import { defineKind } from './kind.js';
import { SERVICE_NAME_PATTERN } from './update-service.js';
import { stepsSchema, targetSchema, toSteps, type UiStep } from './ui-test-steps.js';

export type { UiStep } from './ui-test-steps.js';

export const MAX_JOURNEY_RETRIES = 5;

export interface UiTestSpec {
  type: 'ui-test';
  /** The journey's name (metrics label); default the stage's name, filled in by the parser. */
  journey: string;
  /** The environment label; default the service's name, else "default". */
  env: string;
  /** A Dockyard service whose proxy is the base URL; null with `url`. */
  service: string | null;
  /** The base URL; null with `service`. */
  url: string | null;
  /** Declared steps; empty with `script`. */
  steps: UiStep[];
  /** An ES module in the run's source; null with `steps`. */
  script: string | null;
  /** Extra runs of a failed journey before it counts as failed. */
  retries: number;
  thresholdMs: number | null;
  expectEveryMs: number | null;
}

/** The output keys every ui-test reports (the server reads the history from them). */
export const UI_TEST_OUTPUTS = [
  'success',
  'duration_ms',
  'failed_step',
  'error',
  'attempts',
  'journey',
  'env',
  'url',
  'finished_at',
  'last_success_at',
  'checks_passed',
  'checks_failed',
] as const;

export const uiTest = defineKind({
  type: 'ui-test',
  outputs: { keys: UI_TEST_OUTPUTS },
  source: 'reads',
  description:
    'A browser journey (steps or a script) in headless Chromium against a URL or a service; pushes synthetic metrics.',
  shape: {
    journey: nameSchema
      .optional()
      .meta({ description: "The journey's name in metrics and alerts. Default: the stage name." }),
    env: nameSchema
      .optional()
      .meta({ description: 'The environment label of its metrics. Default: the service name, else "default".' }),
    service: z
      .string()
      .regex(SERVICE_NAME_PATTERN, { error: 'service must be 1-63 of a-z 0-9 - starting with a letter or digit' })
      .optional()
      .meta({ description: "A Dockyard service: the journey runs against one of its hosts' proxies." }),
    url: targetSchema('url')
      .refine((v) => !v.startsWith('/'), { error: 'url must be an absolute http(s) URL' })
      .optional()
      .meta({ description: 'The base URL the journey runs against (instead of service).' }),
    steps: stepsSchema.optional().meta({ description: 'The journey: goto, click, fill, expect and measure steps.' }),
    script: sourcePathSchema.optional().meta({
      description:
        "An ES module in the run's source whose default export is async (page, { baseUrl, step }) => …; step(name, fn) times a step.",
    }),
    retries: z
      .int({ error: 'retries must be a whole number' })
      .min(0, { error: 'retries must be at least 0' })
      .max(MAX_JOURNEY_RETRIES, { error: `retries must be at most ${MAX_JOURNEY_RETRIES}` })
      .optional()
      .meta({ description: 'Extra runs of a failed journey before it counts as failed. Default 1.' }),
    threshold: durationSchemaOf()
      .optional()
      .meta({ description: 'The journey is slow above this (an alert rule reads it as a metric).' }),
    expect_every: durationSchemaOf()
      .optional()
      .meta({ description: 'How often the journey is expected to run (its results are stale after 3 of these).' }),
  },
  check(stage, problem) {
    if (Object.hasOwn(stage, 'service') === Object.hasOwn(stage, 'url'))
      problem([], false, 'ui-test needs exactly one of service (a Dockyard service) or url');
    if (Object.hasOwn(stage, 'steps') === Object.hasOwn(stage, 'script'))
      problem([], false, 'ui-test needs exactly one of steps (declared steps) or script (a file in the source)');
  },
  build: (s): UiTestSpec => ({
    type: 'ui-test',
    journey: s.journey ?? '',
    env: s.env ?? s.service ?? 'default',
    service: s.service ?? null,
    url: s.url ?? null,
    steps: s.steps ? toSteps(s.steps) : [],
    script: s.script ?? null,
    retries: s.retries ?? 1,
    thresholdMs: s.threshold ?? null,
    expectEveryMs: s.expect_every ?? null,
  }),
});
