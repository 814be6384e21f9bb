// What a stage kind contributes to the pipeline file: its `type:` value, its own keys
// (a zod shape merged with the keys every stage has), its cross-field checks, and how
// its validated input becomes the kind's part of a StageDef. One module per kind; the
// registry (index.ts) lists them and the stage schema is their discriminated union.
import type { z } from 'zod';

/** Reports a problem at `path` (relative to the stage) — at the key itself when `atKey`. */
export type StageProblem = (path: PropertyKey[], atKey: boolean, message: string) => void;

export interface KindDefinition<T extends string, Shape extends z.ZodRawShape, Spec extends { type: T }> {
  type: T;
  /**
   * Spawned by a server kind, never written in a pipeline (service-step): left out of the stage schema, the JSON
   * Schema and the list of types.
   */
  internal?: boolean;
  /** One line for the JSON Schema and the docs. */
  description: string;
  /** The kind's own keys (the common ones, type included, are added by the registry). */
  shape: Shape;
  /** Rules zod cannot express per field, on the raw stage mapping (which may hold wrong types: skip those). */
  check?(stage: Record<string, unknown>, problem: StageProblem): void;
  /** Rules about the other stages it names, on the raw mappings (`stages`: the whole `stages:` mapping). */
  checkWithOthers?(stage: Record<string, unknown>, stages: Record<string, unknown>, problem: StageProblem): void;
  /** The kind's part of a StageDef, from its validated keys. */
  build(input: z.output<z.ZodObject<Shape>>): Spec;
  /** The output keys the kind reports, when they are fixed (a command stage's are whatever it writes). */
  outputs?: KindOutputs;
  /**
   * Whether its stages read the run's source: `needs` (a pipeline without a git `source:` must
   * come with its directory uploaded), `reads` (it gets the files when there are any). Absent: never.
   */
  source?: 'needs' | 'reads';
  /**
   * Secret references (SecretRef) from the kind's own keys instead of `env` (a build's `secrets:`), and that key's
   * name.
   */
  ownSecrets?: {
    key: string;
    refs(input: z.output<z.ZodObject<Shape>>): { env: string; secret: string; asFile: boolean }[];
  };
  /**
   * When a stage of this kind ends `skipped` by itself (an approval with `on_timeout: skip`):
   * `when` the raw mapping says it can, and `how` in words for messages. Only a need that can
   * skip itself may be written with `if_skipped: continue`.
   */
  skipsItself?: { when(stage: Record<string, unknown>): boolean; how: string };
  /**
   * The kind's own `timeout:` key replaces the common one (approval: its deadline); the stage gets no generic timeout.
   */
  ownsTimeout?: boolean;
}

/** The output keys a kind can report: `${{ stages.X.outputs.K }}` with any other K is refused by validate. */
export interface KindOutputs {
  keys: readonly string[];
  /** Keys named after the stage's own data (a deploy's `SERVICE.host`), with how to write them. */
  pattern?: { regex: RegExp; shape: string };
}

export function defineKind<T extends string, Shape extends z.ZodRawShape, Spec extends { type: T }>(
  kind: KindDefinition<T, Shape, Spec>,
): KindDefinition<T, Shape, Spec> {
  return kind;
}
