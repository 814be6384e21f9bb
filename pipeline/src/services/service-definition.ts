// A service as an update-service stage rolls it: the service file and its env file read together, and the revision
// one update makes of it.
import { posix } from 'node:path';
import { quote } from '../schema-parts.js';
import { parseEnvFile } from './env-file.js';
import { mergeServiceEnv } from './service-env.js';
import { readServiceFile } from './service-file.js';
import type { ServiceProblem } from './service-problems.js';
import type { ServiceDefinition, ServiceRevisionSpec, ServiceSecretRef } from './types.js';

export interface ServiceDefinitionOptions {
  /** The service file's path in the run's source (names its problems; its directory holds the env file). */
  file?: string;
  /** The update-service stage's `service:`: the file must declare the same name. */
  service?: string;
}

export type ServiceDefinitionResult =
  { ok: true; definition: ServiceDefinition } | { ok: false; problems: ServiceProblem[] };

/**
 * The path of a service file's env file in the run's source: `envFile` as written, relative to the service file's
 * directory (the schema has already refused absolute paths and '..').
 */
export function envFilePathOf(serviceFile: string, envFile: string): string {
  return posix.join(posix.dirname(serviceFile), envFile);
}

/**
 * Reads a service file and its env file together. `envFileText` is the content of the file its `env_file:` names
 * (see {@link envFilePathOf}), or null when there is no such file. The env file's entries come first and `env:`
 * overrides them, whatever their kind. Never throws; problems name their file (the service file as `options.file`,
 * default `service.yml`; the env file by its path).
 */
export function serviceDefinition(
  serviceFileText: string | Uint8Array,
  envFileText: string | Uint8Array | null,
  options: ServiceDefinitionOptions = {},
): ServiceDefinitionResult {
  const file = options.file ?? 'service.yml';
  const read = readServiceFile(serviceFileText, file);
  if (!read.ok) return read;
  const { definition, at } = read;
  const problems: ServiceProblem[] = [];
  if (options.service !== undefined && options.service !== definition.name) {
    problems.push({
      file,
      path: 'name',
      ...at(['name'], false),
      message: `the file declares service ${quote(definition.name)} but the update-service stage updates ${quote(options.service)}`,
    });
  }
  if (definition.envFile === null) return problems.length > 0 ? { ok: false, problems } : { ok: true, definition };

  const envFile = envFilePathOf(file, definition.envFile);
  if (envFileText === null) {
    problems.push({
      file,
      path: 'env_file',
      ...at(['env_file'], false),
      // The whole path, not quote()'s 40 characters: it says where the file was looked for.
      message: `env_file '${envFile}' does not exist`,
    });
    return { ok: false, problems };
  }
  const env = parseEnvFile(envFileText, { file: envFile });
  if (!env.ok) return { ok: false, problems: [...problems, ...env.problems] };
  if (problems.length > 0) return { ok: false, problems };
  const merged = mergeServiceEnv(env, definition);
  return { ok: true, definition: { ...definition, env: merged.env, secrets: merged.secrets } };
}

/** A revision spec, or why there is none. */
export type RevisionSpecResult = { ok: true; spec: ServiceRevisionSpec } | { ok: false; message: string };

/**
 * What one update of `definition` runs. `image` is the update-service stage's `image:` (null when it has none): it
 * replaces the file's. Env entries and secrets are sorted by name, so two updates with the same content give equal
 * specs whatever order their files list them in.
 */
export function revisionSpecOf(definition: ServiceDefinition, image: string | null): RevisionSpecResult {
  const chosen = image ?? definition.image;
  if (chosen === null) {
    return {
      ok: false,
      message: `service ${quote(definition.name)} has no image: set image: in the file or in the update-service stage`,
    };
  }
  const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const env = Object.fromEntries(Object.entries(definition.env).sort(([a], [b]) => byName(a, b)));
  const secrets: ServiceSecretRef[] = definition.secrets
    .map((s) => ({ env: s.env, secret: s.secret }))
    .sort((a, b) => byName(a.env, b.env));
  return {
    ok: true,
    spec: {
      image: chosen,
      env,
      secrets,
      command: definition.command === null ? null : [...definition.command],
      port: definition.port,
      health: {
        ...definition.health,
        http: definition.health.http === null ? null : { ...definition.health.http },
        command: definition.health.command === null ? null : [...definition.health.command],
      },
      stopGraceMs: definition.stopGraceMs,
      replicas: definition.replicas,
    },
  };
}
