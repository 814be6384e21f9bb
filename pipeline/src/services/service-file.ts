// The service file (e.g. services/web.yml): read within the same hostile-input bounds as the pipeline file, checked
// against service-schema.ts, and turned into a ServiceDefinition with every default applied.
import { keepScalarSource } from '../ast.js';
import { errorMap, locatedProblems, type Locator } from '../issues.js';
import type { Problem } from '../types.js';
import { finishProblems, neverThrows, readYamlMapping } from '../yaml-source.js';
import { inFile, type ServiceProblem } from './service-problems.js';
import { SERVICE_FILE_LIMITS, serviceFileSchema, serviceKnownKeys, type ServiceFileInput } from './service-schema.js';
import type { ServiceDefinition } from './types.js';

/** What a service file leaves out, in milliseconds for durations. */
export const SERVICE_DEFAULTS = Object.freeze({
  replicas: 1,
  httpStatus: 200,
  healthIntervalMs: 1_000,
  healthTimeoutMs: 2_000,
  minHealthyMs: 3_000,
  stopGraceMs: 10_000,
  maxParallel: 1,
  watchWindowMs: 300_000,
  updateHealthTimeoutMs: 60_000,
  drainTimeoutMs: 30_000,
});

/** A service file's definition (env and secrets from its `env:` only), or every problem in it. */
export type ServiceFileResult = { ok: true; definition: ServiceDefinition } | { ok: false; problems: ServiceProblem[] };

/** {@link ServiceFileResult} with a locator into the file, for checks about the file made by its callers. */
export type LocatedServiceFile =
  { ok: true; definition: ServiceDefinition; at: Locator } | { ok: false; problems: ServiceProblem[] };

/**
 * Parses and validates a service file. Never throws: returns the definition (defaults applied, durations in ms, the
 * env file not read: `envFile` is its path as written) or every problem, each with the file (`options.file`, default
 * `service.yml`), a line and a column. Hostile input is refused in bounded time: see {@link SERVICE_FILE_LIMITS}.
 */
export function parseServiceFile(input: string | Uint8Array, options: { file?: string } = {}): ServiceFileResult {
  const read = readServiceFile(input, options.file ?? 'service.yml');
  return read.ok ? { ok: true, definition: read.definition } : read;
}

/** {@link parseServiceFile}, keeping the locator. */
export function readServiceFile(input: string | Uint8Array, file: string): LocatedServiceFile {
  const fail = (problems: Problem[]): LocatedServiceFile => ({
    ok: false,
    problems: finishProblems(inFile(file, problems), SERVICE_FILE_LIMITS.maxProblems),
  });
  return neverThrows(() => {
    const read = readYamlMapping(
      input,
      SERVICE_FILE_LIMITS,
      "file is empty: expected a mapping with 'name', 'port' and 'proxy_port'",
    );
    if (!read.ok) return fail(read.problems);
    const { js, doc, at } = read;
    // Env values and label values keep their spelling (1.10 stays "1.10", not "1.1").
    keepScalarSource(doc, js, ['env']);
    keepScalarSource(doc, js, ['agents']);
    const parsed = serviceFileSchema.safeParse(js, { reportInput: true, error: errorMap });
    if (!parsed.success) return fail(locatedProblems(parsed.error.issues, at, serviceKnownKeys));
    return { ok: true, definition: toDefinition(parsed.data), at };
  }, fail);
}

function toDefinition(input: ServiceFileInput): ServiceDefinition {
  const d = SERVICE_DEFAULTS;
  const health = input.health;
  const update = input.update;
  return {
    name: input.name,
    image: input.image ?? null,
    replicas: input.replicas ?? d.replicas,
    agents: { ...input.agents },
    hosts: input.hosts ?? null,
    port: input.port,
    proxyPort: input.proxy_port,
    command: input.command ?? null,
    env: { ...input.env?.env },
    secrets: [...(input.env?.secrets ?? [])],
    envFile: input.env_file ?? null,
    health: {
      http: health?.http ? { path: health.http.path, status: health.http.status ?? d.httpStatus } : null,
      command: health?.command ?? null,
      intervalMs: health?.interval ?? d.healthIntervalMs,
      timeoutMs: health?.timeout ?? d.healthTimeoutMs,
      minHealthyMs: health?.min_healthy_time ?? d.minHealthyMs,
    },
    stopGraceMs: input.stop_grace_period ?? d.stopGraceMs,
    update: {
      maxParallel: update?.max_parallel ?? d.maxParallel,
      watchWindowMs: update?.watch_window ?? d.watchWindowMs,
      healthTimeoutMs: update?.health_timeout ?? d.updateHealthTimeoutMs,
      drainTimeoutMs: update?.drain_timeout ?? d.drainTimeoutMs,
    },
  };
}
