import type { z } from 'zod';
import { formatPath } from '../format.js';

/** One reason a Compose template was refused; `path` is a JSON path such as `services.db.deploy`. */
export interface ComposeProblem {
  path: string;
  message: string;
}

type Issue = z.core.$ZodIssue;
type Path = PropertyKey[];

// Why a well-known Compose key is left out, so the refusal tells the author what to do instead.
const HINTS: Record<string, string> = {
  build: 'build the image in an earlier build stage and set image',
  deploy: 'environments run one container per service without resource or replica settings',
  networks: 'each environment gets one network of its own, where services reach each other by service name',
  network_mode: 'each environment gets one network of its own',
  privileged: 'environment containers never run privileged',
  cap_add: "environment containers run with Docker's default capabilities",
  devices: 'host devices are not available to environments',
  pid: 'containers never share the host PID namespace',
  ipc: 'containers never share IPC namespaces',
  expose: 'list container ports under ports',
  secrets: 'pass values through environment or env_file',
  configs: 'seed a named volume with the files instead',
  extends: 'write the service out in full (YAML anchors under x-* keys work)',
  include: 'write the services into one template',
  profiles: 'every service of a template is started',
};

const RENAMED_TYPES: Record<string, string> = {
  object: 'a mapping',
  array: 'a sequence',
  record: 'a mapping',
  string: 'a string',
};

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a sequence';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function lookup(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path)
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  return v;
}

const at = (path: Path) => formatPath(path.map((s) => (typeof s === 'symbol' ? String(s) : s)));

/**
 * Turns zod issues into problems: one per refused key (naming it and saying it is not
 * supported), union failures reduced to the branch whose shape matched, and invalid record
 * keys reported at the key's own path. `input` is the value that was parsed (for messages).
 */
export function composeProblems(issues: readonly Issue[], input: unknown, base: Path = []): ComposeProblem[] {
  const out: ComposeProblem[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          const hint = HINTS[key];
          out.push({ path: at([...path, key]), message: `'${key}' is not supported${hint ? `: ${hint}` : ''}` });
        }
        break;
      case 'invalid_key':
        // Record keys: the inner issue's message already names the key and the rule.
        for (const inner of issue.issues) out.push({ path: at(path), message: inner.message });
        break;
      case 'invalid_union': {
        // A branch that failed below its root had the right shape: its issues are the useful ones.
        const shaped = issue.errors.find(
          (branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0),
        );
        if (shaped) {
          out.push(...composeProblems(shaped, input, path));
        } else {
          const expected = [
            ...new Set(
              issue.errors
                .flat()
                .map((i) => (i.code === 'invalid_type' ? (RENAMED_TYPES[i.expected] ?? i.expected) : 'another value')),
            ),
          ];
          out.push({
            path: at(path),
            message: `expected ${expected.join(' or ')}, got ${describe(lookup(input, path))}`,
          });
        }
        break;
      }
      case 'invalid_type':
        out.push({ path: at(path), message: lookup(input, path) === undefined ? 'is required' : issue.message });
        break;
      default:
        out.push({ path: at(path), message: issue.message });
    }
  }
  return out;
}
