// A service's environment: values are literal, except one form that names a secret. The env file and the service
// file's `env:` share these rules, and the merge of the two.
import { SECRET_NAME_PATTERN, quote } from '../schema-parts.js';
import type { ServiceSecretRef } from './types.js';

/** `${{ secrets.NAME }}`, spaces inside the braces optional; NAME is checked separately for a precise message. */
const SECRET_VALUE = /^\$\{\{\s*secrets\.(\S*?)\s*\}\}$/;

/** Plain values and secret references, in the order they were written. */
export interface ServiceEnv {
  env: Record<string, string>;
  secrets: ServiceSecretRef[];
}

/** What a written value means: a literal, a secret's name, or a refused value. */
export type EnvValueMeaning =
  { kind: 'value'; value: string } | { kind: 'secret'; secret: string } | { kind: 'refused'; message: string };

/**
 * Reads a value as written. Nothing substitutes `${{ }}` in a service's env (the service file is read when the stage
 * runs, after the pipeline's expressions), so any `${{` other than a whole secret reference would reach the
 * container verbatim: it is refused rather than passed on.
 */
export function envValueMeaning(value: string): EnvValueMeaning {
  const secret = SECRET_VALUE.exec(value);
  if (secret) {
    const name = secret[1] ?? '';
    if (SECRET_NAME_PATTERN.test(name)) return { kind: 'secret', secret: name };
    return {
      kind: 'refused',
      message: `invalid secret name ${quote(name)} in \${{ secrets.NAME }}: use 1-63 of A-Z a-z 0-9 . _ - starting with a letter or digit`,
    };
  }
  if (value.includes('${{')) {
    return {
      kind: 'refused',
      message:
        "'${{' is allowed only as a whole value '${{ secrets.NAME }}' (a secret reference); service values are otherwise literal",
    };
  }
  return { kind: 'value', value };
}

/** Adds `name` to `into` as a value or a secret reference (replacing an earlier entry of either kind). */
export function setEnv(
  into: ServiceEnv,
  name: string,
  meaning: { kind: 'value'; value: string } | { kind: 'secret'; secret: string },
): void {
  unset(into, name);
  if (meaning.kind === 'value') into.env[name] = meaning.value;
  else into.secrets.push({ env: name, secret: meaning.secret });
}

/**
 * The env file's entries overridden by the service file's `env:`: a name in `env:` wins whatever its kind, so a name
 * that is a secret in one and plain in the other takes the `env:` one. Env file entries first, in file order.
 */
export function mergeServiceEnv(fromEnvFile: ServiceEnv, fromServiceFile: ServiceEnv): ServiceEnv {
  const merged: ServiceEnv = { env: { ...fromEnvFile.env }, secrets: [...fromEnvFile.secrets] };
  for (const [name, value] of Object.entries(fromServiceFile.env)) setEnv(merged, name, { kind: 'value', value });
  for (const ref of fromServiceFile.secrets) setEnv(merged, ref.env, { kind: 'secret', secret: ref.secret });
  return merged;
}

function unset(from: ServiceEnv, name: string): void {
  delete from.env[name];
  const at = from.secrets.findIndex((s) => s.env === name);
  if (at >= 0) from.secrets.splice(at, 1);
}
