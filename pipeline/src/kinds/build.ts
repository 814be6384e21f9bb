// `type: build`: an image built with BuildKit from the run's source (a git
// repository at a ref, or the directory the CLI uploaded), optionally pushed to
// the pipeline's registry. Outputs: image, image_id, digest, size_bytes, layers.
import { z } from 'zod';
import { ENV_NAME_PATTERN, SECRET_NAME_PATTERN, quote, scalarString } from '../schema-parts.js';
import { defineKind } from './kind.js';

/** A path inside the run's source: relative, no `..`, no backslashes. */
export const SOURCE_PATH_PATTERN = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[^\\\0]{1,255}$/;

export const sourcePathSchema = z.string().regex(SOURCE_PATH_PATTERN, {
  error: (iss) => `${quote(iss.input)} must be a relative path inside the source (no leading /, no ..)`,
});

/** `name[:tag]`, lowercase repository path; the registry address is added when pushing. */
const TAG_PATTERN =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::(?:\w|\$\{\{[^}]*\}\})(?:[\w.-]|\$\{\{[^}]*\}\}){0,127})?$/;

export interface BuildSpec {
  type: 'build';
  /** Directory inside the source holding the build context. */
  context: string;
  /** Dockerfile path, relative to the context. */
  dockerfile: string;
  target: string | null;
  args: Record<string, string>;
  /** `name:tag` (expressions allowed); the first names the image in the outputs. */
  tags: string[];
  push: boolean;
  /** BuildKit secret id -> secret store name (RUN --mount=type=secret,id=ID). */
  secrets: Record<string, string>;
}

export const build = defineKind({
  type: 'build',
  outputs: { keys: ['image', 'image_id', 'digest', 'size_bytes', 'layers', 'commit'] },
  source: 'needs',
  ownSecrets: {
    key: 'secrets',
    refs: (s) => Object.entries(s.secrets ?? {}).map(([id, secret]) => ({ env: id, secret, asFile: false })),
  },
  description: "Build an image (BuildKit, multi-stage) from the run's source and optionally push it to the registry.",
  shape: {
    context: sourcePathSchema
      .optional()
      .meta({ description: "Build context: a directory in the run's source. Default '.'." }),
    dockerfile: sourcePathSchema
      .optional()
      .meta({ description: "Dockerfile path relative to the context. Default 'Dockerfile'." }),
    target: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: (iss) => `invalid target ${quote(iss.input)}` })
      .optional()
      .meta({ description: 'Build stage to stop at (FROM ... AS target).' }),
    args: z
      .record(
        z.string().regex(ENV_NAME_PATTERN, { error: (iss) => `invalid build arg name ${quote(iss.input)}` }),
        scalarString,
      )
      .optional()
      .meta({ description: 'Build args (ARG values); numbers and booleans are coerced to strings.' }),
    tags: z
      .array(
        z.string().regex(TAG_PATTERN, {
          error: (iss) =>
            `invalid tag ${quote(iss.input)}: use name[:tag], lowercase name, e.g. webapp:\${{ DOCKYARD_RUN_NUMBER }}`,
        }),
      )
      .min(1, { error: 'tags must list at least one name:tag' })
      .max(16)
      .meta({
        description:
          'Image names, e.g. [webapp:${{ DOCKYARD_RUN_NUMBER }}]. With push, each is pushed as REGISTRY/name:tag.',
      }),
    push: z
      .boolean()
      .optional()
      .meta({ description: "Push the tags to the pipeline's registry (or the server's). Default false." }),
    secrets: z
      .record(
        z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, { error: (iss) => `invalid build secret id ${quote(iss.input)}` }),
        z.string().regex(SECRET_NAME_PATTERN, { error: (iss) => `invalid secret name ${quote(iss.input)}` }),
      )
      .optional()
      .meta({
        description:
          'Build secrets: id -> secret store name, for RUN --mount=type=secret,id=ID. Never in a layer or the log.',
      }),
  },
  build: (s): BuildSpec => ({
    type: 'build',
    context: s.context ?? '.',
    dockerfile: s.dockerfile ?? 'Dockerfile',
    target: s.target ?? null,
    args: { ...s.args },
    tags: s.tags,
    push: s.push ?? false,
    secrets: { ...s.secrets },
  }),
});
