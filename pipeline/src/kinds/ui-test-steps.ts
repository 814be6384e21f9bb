// The steps of a declared `ui-test` journey: each a mapping with exactly one action key
// (goto, click, fill, expect, measure) and an optional `name:`. One strict object with every
// action optional (instead of a union) so a problem names the step and key that is wrong.
import { z } from 'zod';
import { quote } from '../schema-parts.js';

export const MAX_STEPS = 100;
const MAX_SELECTOR = 500;
const MAX_VALUE = 2000;
const MAX_STEP_NAME = 80;
/** Expressions (`${{ stages.build.outputs.url }}`) are substituted at assignment, so they pass here. */
const EXPRESSION = /\$\{\{[^}]*\}\}/;

/** `goto` and `url`: an http(s) URL, an absolute path (against the journey's base URL), or an expression. */
export const targetSchema = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .max(2000, { error: `${what} must be at most 2000 characters` })
    .refine((v) => EXPRESSION.test(v) || /^https?:\/\/[^\s]+$/.test(v) || /^\/[^\s]*$/.test(v), {
      error: (iss) => `${what} ${quote(iss.input)} must be an http(s) URL or a path starting with /`,
    });

const selector = (what: string) =>
  z
    .string({ error: `${what} must be a string (a CSS or Playwright selector)` })
    .min(1, { error: `${what} must not be empty` })
    .max(MAX_SELECTOR, { error: `${what} must be at most ${MAX_SELECTOR} characters` });

export type UiStepAction = 'goto' | 'click' | 'fill' | 'expect' | 'measure';
export const STEP_ACTIONS: readonly UiStepAction[] = ['goto', 'click', 'fill', 'expect', 'measure'];

/** One step as the agent runs it; `name` is always set (a default from its position and action). */
export type UiStep =
  | { action: 'goto'; name: string; target: string }
  | { action: 'click'; name: string; selector: string }
  | { action: 'fill'; name: string; selector: string; value: string }
  | { action: 'expect'; name: string; text: string | null; selector: string | null; status: number | null }
  | { action: 'measure'; name: string };

const expectSchema = z
  .strictObject({
    text: z.string().min(1, { error: 'expect.text must not be empty' }).max(MAX_VALUE).optional(),
    selector: selector('expect.selector').optional(),
    status: z
      .int({ error: 'expect.status must be a whole number' })
      .min(100, { error: 'expect.status must be an HTTP status (100-599)' })
      .max(599, { error: 'expect.status must be an HTTP status (100-599)' })
      .optional(),
  })
  .refine((e) => [e.text, e.selector, e.status].filter((v) => v !== undefined).length === 1, {
    error: 'expect needs exactly one of text, selector or status',
  });

export const stepSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[^\n]{1,80}$/, { error: `step name must be 1-${MAX_STEP_NAME} characters on one line` })
      .optional(),
    goto: targetSchema('goto').optional(),
    click: selector('click').optional(),
    fill: z
      .strictObject({ selector: selector('fill.selector'), value: z.string().max(MAX_VALUE) })
      .optional()
      .meta({ description: 'Type `value` into the field `selector`.' }),
    expect: expectSchema.optional().meta({
      description: 'Check the page: { text } visible, { selector } present, or { status } of the last navigation.',
    }),
    measure: z
      .string()
      .regex(/^[^\n]{1,80}$/, { error: 'measure must name the measurement (1-80 characters)' })
      .optional()
      .meta({ description: "Record the current page's navigation timing and web vitals under this name." }),
  })
  .superRefine((s, ctx) => {
    const actions = STEP_ACTIONS.filter((a) => s[a] !== undefined);
    if (actions.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message:
          actions.length === 0
            ? `a step needs one action: ${STEP_ACTIONS.join(', ')}`
            : `a step has exactly one action, this one has ${actions.join(' and ')}`,
      });
  })
  .meta({ title: 'UiStep', description: 'One step: goto, click, fill, expect or measure, with an optional name.' });

export const stepsSchema = z
  .array(stepSchema)
  .min(1, { error: 'steps must hold at least one step' })
  .max(MAX_STEPS, { error: `steps may hold at most ${MAX_STEPS} steps` })
  .superRefine((steps, ctx) => {
    const seen = new Set<string>();
    steps.forEach((s, i) => {
      if (s.name === undefined) return;
      if (seen.has(s.name))
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `step name '${s.name}' is used twice` });
      seen.add(s.name);
    });
  });

type StepInput = z.output<typeof stepSchema>;

/** The validated steps as the spec carries them (defaults filled in). */
export function toSteps(input: StepInput[]): UiStep[] {
  return input.map((s, i): UiStep => {
    const name = (a: string) => s.name ?? `${i + 1}-${a}`;
    if (s.goto !== undefined) return { action: 'goto', name: name('goto'), target: s.goto };
    if (s.click !== undefined) return { action: 'click', name: name('click'), selector: s.click };
    if (s.fill !== undefined)
      return { action: 'fill', name: name('fill'), selector: s.fill.selector, value: s.fill.value };
    if (s.expect !== undefined)
      return {
        action: 'expect',
        name: name('expect'),
        text: s.expect.text ?? null,
        selector: s.expect.selector ?? null,
        status: s.expect.status ?? null,
      };
    return { action: 'measure', name: s.name ?? s.measure! };
  });
}
