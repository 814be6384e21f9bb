// `type: command` (the default): commands run in a container image, or on the
// agent host with `executor: shell`.
import { z } from 'zod';
import { envSchema, resourcesSchema } from '../schema-parts.js';
import { defineKind } from './kind.js';

/** A reference without spaces, except inside `${{ }}` expressions (an earlier build's output). */
export const imageSchema = z
  .string()
  .max(255, { error: 'image must be at most 255 characters' })
  .regex(/^(?:[^\s$]|\$(?!\{\{)|\$\{\{[^}]*\}\})+$/, {
    error: 'image must be a non-empty reference without spaces (at most 255 chars)',
  });

export const commandsShape = {
  commands: z
    .array(z.string().regex(/\S/, { error: 'command must not be blank' }))
    .min(1, { error: 'commands must list at least one command' })
    .optional()
    .meta({
      description:
        'Commands run in order by sh; the stage fails at the first non-zero exit. Exactly one of command/commands.',
    }),
  command: z
    .string()
    .regex(/\S/, { error: 'command must not be blank' })
    .optional()
    .meta({ description: 'A single command; shorthand for commands: [command].' }),
};

/** `command: x` or `commands: [...]` as a list (empty when neither: the check reports that). */
export function commandList(input: { command?: string; commands?: string[] }): string[] {
  return input.commands ?? (input.command === undefined ? [] : [input.command]);
}

/** Container limits: memory in bytes, CPUs as Docker's NanoCpus; null = the agent's default. */
export interface StageResources {
  memoryBytes: number | null;
  /** CPU share in billionths of a CPU (Docker's NanoCpus): `cpus: 1.5` is 1.5e9. */
  nanoCpus: number | null;
  pids: number | null;
}

export function toResources(r: z.output<typeof resourcesSchema> | undefined): StageResources {
  return {
    memoryBytes: r?.memory ?? null,
    nanoCpus: r?.cpus === undefined ? null : Math.round(r.cpus * 1e9),
    pids: r?.pids ?? null,
  };
}

export interface CommandSpec {
  type: 'command';
  /** Container image; `null` only for `executor: 'shell'`. */
  image: string | null;
  /** At least one command; `command: x` is normalised to `[x]`. */
  commands: string[];
  executor: 'docker' | 'shell';
  resources: StageResources;
}

export const command = defineKind({
  type: 'command',
  description: 'Commands run in a container image (or on the agent host with executor: shell). The default type.',
  shape: {
    image: imageSchema.optional().meta({
      description:
        'Container image, e.g. dockyard/busybox:1. Required unless executor is shell (where it is not allowed).',
    }),
    ...commandsShape,
    env: envSchema.optional().meta({ description: 'Stage environment, merged over the pipeline env.' }),
    resources: resourcesSchema.optional(),
    executor: z
      .enum(['docker', 'shell'])
      .optional()
      .meta({ description: 'docker (default) runs the commands in `image`; shell runs them on the agent host.' }),
  },
  check(stage, problem) {
    checkCommands(stage, problem);
    const has = (key: string): boolean => Object.hasOwn(stage, key);
    if (stage.executor === 'shell' && has('image'))
      problem(['image'], true, "'image' is not allowed with executor: shell");
    else if ((stage.executor === undefined || stage.executor === 'docker') && !has('image')) {
      problem([], true, "missing required key 'image' (required unless executor: shell)");
    }
  },
  build: (s): CommandSpec => ({
    type: 'command',
    image: s.image ?? null,
    commands: commandList(s),
    executor: s.executor ?? 'docker',
    resources: toResources(s.resources),
  }),
});

/** Exactly one of `command` and `commands` (shared with the test kind). */
export function checkCommands(
  stage: Record<string, unknown>,
  problem: (path: PropertyKey[], atKey: boolean, message: string) => void,
): void {
  const has = (key: string): boolean => Object.hasOwn(stage, key);
  if (has('command') && has('commands')) problem(['command'], true, "use either 'command' or 'commands', not both");
  else if (!has('command') && !has('commands')) problem([], true, "missing required key 'commands' (or 'command')");
}
