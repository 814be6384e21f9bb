import { z } from 'zod';
import { findCycles, formatCycle } from '../dag.js';
import { formatPath } from '../format.js';
import { errorMap } from '../issues.js';
import {
  checked,
  parseComposeDuration,
  parsePort,
  parseVolumeMount,
  splitShellWords,
  VOLUME_NAME_PATTERN,
  type ComposePort,
  type ComposeVolumeMount,
} from './compose-values.js';
import { composeProblems, type ComposeProblem } from './compose-problems.js';

export type { ComposePort, ComposeVolumeMount } from './compose-values.js';
export type { ComposeProblem } from './compose-problems.js';

/**
 * The Compose subset a Dockyard temporary environment runs: a validated, normalised template.
 * Produced only by {@link parseComposeTemplate}; the agent's upEnvironment consumes it.
 */
export interface ComposeTemplate {
  /** Services by name, in file order. The name is also the service's host name on the environment network. */
  services: Record<string, ComposeService>;
  /** Named volumes declared at top level (every volume a service mounts is one of these). */
  volumes: string[];
}

export type DependsOnCondition = 'service_started' | 'service_healthy';

export interface ComposeService {
  image: string;
  /** `environment`, as a map (list entries `KEY=VALUE` split at the first `=`). Overrides env_file values. */
  environment: Record<string, string>;
  /** `env_file` paths as written, relative to the template's directory; the caller reads them. Later files win. */
  envFiles: string[];
  /** Replaces the image's CMD; a string command is split into words as Compose does. `null` keeps the image's. */
  command: string[] | null;
  ports: ComposePort[];
  volumes: ComposeVolumeMount[];
  healthcheck: ComposeHealthcheck | null;
  /** Services that must be up first, with what "up" means for each. */
  dependsOn: Record<string, DependsOnCondition>;
}

/** Docker's HEALTHCHECK, durations in milliseconds; `null` leaves Docker's (or the image's) default. */
export interface ComposeHealthcheck {
  /** `['CMD', prog, ...args]`, `['CMD-SHELL', line]`, `['NONE']` (disabled), or `null` to keep the image's test. */
  test: string[] | null;
  intervalMs: number | null;
  timeoutMs: number | null;
  retries: number | null;
  startPeriodMs: number | null;
}

export type ParseComposeResult = { ok: true; template: ComposeTemplate } | { ok: false; problems: ComposeProblem[] };

// Compose's own service-name rule, minus a leading separator (names become DNS aliases and container names).
const SERVICE_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ENV_KEY_PATTERN = /^(?!__proto__$)[^=\s]+$/;

const duration = z
  .string({
    error: (iss) => (iss.input === undefined ? undefined : 'expected a duration string such as 1s, 500ms or 1m30s'),
  })
  .transform(checked(parseComposeDuration));

const serviceName = z.string().regex(SERVICE_NAME_PATTERN, {
  error: (iss) =>
    `invalid service name '${String(iss.input)}': use letters, digits, '.', '_' or '-', starting with a letter or digit`,
});

const environment = z
  .union([
    z.record(
      z.string().regex(ENV_KEY_PATTERN, { error: (iss) => `invalid variable name '${String(iss.input)}'` }),
      z.union([z.string(), z.number(), z.boolean(), z.null()]),
    ),
    z.array(z.string()),
  ])
  .transform((value, ctx) => {
    const out: Record<string, string> = {};
    const entries: [string, unknown, (string | number)[]][] = Array.isArray(value)
      ? value.map((line, i) => {
          const eq = line.indexOf('=');
          return eq < 0 ? [line, null, [i]] : [line.slice(0, eq), line.slice(eq + 1), [i]];
        })
      : Object.entries(value).map(([k, v]) => [k, v, [k]]);
    for (const [key, raw, path] of entries) {
      if (raw === null) {
        // Compose would copy the variable from the host running it: a build farm has no such host env to give.
        ctx.addIssue({
          code: 'custom',
          path,
          input: key,
          message: `'${key}' has no value (taking it from the host is not supported): write ${key}=VALUE`,
        });
      } else if (!ENV_KEY_PATTERN.test(key)) {
        ctx.addIssue({ code: 'custom', path, input: key, message: `invalid variable name '${key}'` });
      } else {
        out[key] = String(raw);
      }
    }
    return out;
  });

const envFilePath = z.string().refine((p) => p !== '' && !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), {
  error: (iss) => `env_file '${String(iss.input)}' must be a path relative to the template's directory, without '..'`,
});

const healthcheck = z
  .strictObject({
    test: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
    interval: duration.optional(),
    timeout: duration.optional(),
    retries: z.number().int().min(0).optional(),
    start_period: duration.optional(),
    disable: z.boolean().optional(),
  })
  .transform((h, ctx): ComposeHealthcheck => {
    let test: string[] | null = null;
    if (h.disable) test = ['NONE'];
    else if (typeof h.test === 'string') test = ['CMD-SHELL', h.test];
    else if (h.test) {
      const [kind, ...rest] = h.test;
      const fine =
        kind === 'NONE'
          ? rest.length === 0
          : kind === 'CMD'
            ? rest.length > 0
            : kind === 'CMD-SHELL' && rest.length === 1;
      if (!fine) {
        ctx.addIssue({
          code: 'custom',
          path: ['test'],
          input: h.test,
          message:
            'test must be ["CMD", prog, args...], ["CMD-SHELL", "command line"], ["NONE"] or a command-line string',
        });
      }
      test = h.test;
    }
    const ms = (v: number | undefined) => v ?? null;
    return {
      test,
      intervalMs: ms(h.interval),
      timeoutMs: ms(h.timeout),
      retries: ms(h.retries),
      startPeriodMs: ms(h.start_period),
    };
  });

const condition = z.enum(['service_started', 'service_healthy']);

const dependsOn = z
  .union([z.array(serviceName), z.record(serviceName, z.strictObject({ condition: condition.optional() }))])
  .transform((v): Record<string, DependsOnCondition> =>
    Array.isArray(v)
      ? Object.fromEntries(v.map((name) => [name, 'service_started' as const]))
      : Object.fromEntries(Object.entries(v).map(([name, d]) => [name, d.condition ?? 'service_started'])),
  );

const service = z
  .strictObject({
    image: z.string().min(1),
    environment: environment.optional(),
    env_file: z.union([envFilePath, z.array(envFilePath)]).optional(),
    command: z.union([z.string().transform(checked(splitShellWords)), z.array(z.string()).min(1)]).optional(),
    ports: z.array(z.union([z.string(), z.number().int()]).transform(checked(parsePort))).optional(),
    volumes: z.array(z.string().transform(checked(parseVolumeMount))).optional(),
    healthcheck: healthcheck.optional(),
    depends_on: dependsOn.optional(),
  })
  .transform((s): ComposeService => ({
    image: s.image,
    environment: s.environment ?? {},
    envFiles: s.env_file === undefined ? [] : typeof s.env_file === 'string' ? [s.env_file] : s.env_file,
    command: s.command ?? null,
    ports: s.ports ?? [],
    volumes: s.volumes ?? [],
    healthcheck: s.healthcheck ?? null,
    dependsOn: s.depends_on ?? {},
  }));

const volumeName = z
  .string()
  .regex(VOLUME_NAME_PATTERN, { error: (iss) => `invalid volume name '${String(iss.input)}'` });

const templateSchema = z.strictObject({
  services: z.record(serviceName, service),
  // `data:` (null) or `data: {}`; driver, external and the like are refused as unknown keys.
  volumes: z.record(volumeName, z.union([z.null(), z.strictObject({})])).optional(),
});

/** `x-*` extension keys hold YAML anchors in real Compose files; `version` is obsolete. Neither means anything here. */
function stripIgnored(value: unknown): unknown {
  if (!isMapping(value)) return value;
  const root = Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('x-') && k !== 'version'));
  if (isMapping(root.services)) {
    root.services = Object.fromEntries(
      Object.entries(root.services).map(([name, s]) => [
        name,
        isMapping(s) ? Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('x-'))) : s,
      ]),
    );
  }
  return root;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a Compose document (already parsed from YAML/JSON) against the subset that
 * environments support. Never throws. Problems carry a JSON path (`services.db.deploy`,
 * `services.web.ports[0]`); anything outside the subset is refused by name, as are unknown
 * depends_on targets, dependency cycles and mounts of undeclared volumes.
 */
export function parseComposeTemplate(value: unknown): ParseComposeResult {
  const input = stripIgnored(value);
  const parsed = templateSchema.safeParse(input, { error: errorMap });
  if (!parsed.success) return { ok: false, problems: composeProblems(parsed.error.issues, input) };

  const problems: ComposeProblem[] = [];
  const services = parsed.data.services;
  const names = Object.keys(services);
  const declared = Object.keys(parsed.data.volumes ?? {});
  const raw = (input as { services: Record<string, { depends_on?: unknown }> }).services;
  if (names.length === 0) problems.push({ path: 'services', message: 'must define at least one service' });

  for (const [name, s] of Object.entries(services)) {
    const listed = Array.isArray(raw[name]?.depends_on) ? (raw[name]?.depends_on as string[]) : null;
    for (const dep of Object.keys(s.dependsOn)) {
      if (services[dep]) continue;
      const at = listed ? listed.indexOf(dep) : dep;
      problems.push({
        path: formatPath(['services', name, 'depends_on', at]),
        message: `depends on unknown service '${dep}'`,
      });
    }
    s.volumes.forEach((m, i) => {
      if (!declared.includes(m.source)) {
        problems.push({
          path: formatPath(['services', name, 'volumes', i]),
          message: `volume '${m.source}' is not declared under top-level volumes`,
        });
      }
    });
  }
  const known = (name: string) => Object.keys(services[name]?.dependsOn ?? {}).filter((d) => services[d]);
  for (const cycle of findCycles(names, known)) {
    problems.push({
      path: formatPath(['services', cycle.from, 'depends_on']),
      message: `dependency cycle: ${formatCycle(cycle.path)}`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, template: { services, volumes: declared } };
}
