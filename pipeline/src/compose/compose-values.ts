/**
 * Small value parsers for the Compose subset: durations (Go syntax, as Compose writes them),
 * shell-like word splitting for string commands, and the short syntaxes of ports and volumes.
 * Each returns a result instead of throwing, so the schema can report a problem at its path.
 */
import { z } from 'zod';

export type ValueResult<T> = { ok: true; value: T } | { ok: false; message: string };

/** Lifts a {@link ValueResult} into a zod transform, so a bad value is a problem at its own path. */
export function checked<I, O>(parse: (input: I) => ValueResult<O>) {
  return (input: I, ctx: z.core.$RefinementCtx<I>): O => {
    const r = parse(input);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.message, input });
    return z.NEVER;
  };
}

// Go's time.ParseDuration units (Compose parses durations with it); µs is spelled us here too.
const DURATION_UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000_001,
};
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;

/** `1m30s`, `500ms`, `1.5s` → milliseconds (may be fractional). Docker needs 0 or at least 1ms. */
export function parseComposeDuration(text: string): ValueResult<number> {
  if (!DURATION_PATTERN.test(text)) {
    return {
      ok: false,
      message: `invalid duration '${text}': expected a number with unit h, m, s, ms or us, e.g. 1s, 500ms or 1m30s`,
    };
  }
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g))
    ms += Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? ''] ?? 0);
  if (ms !== 0 && ms < 1)
    return { ok: false, message: `duration '${text}' must be 0 or at least 1ms (Docker's minimum)` };
  return { ok: true, value: ms };
}

/**
 * Splits `command: "sh -c 'echo hi'"` the way Compose does (POSIX shell words, no expansion):
 * single quotes are literal, double quotes allow \" and \\, a backslash outside quotes escapes.
 */
export function splitShellWords(text: string): ValueResult<string[]> {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (quote === "'") {
      if (c === "'") quote = null;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === '$')) word += text[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) return { ok: false, message: `unterminated ${quote} quote in command` };
  if (inWord) words.push(word);
  if (words.length === 0) return { ok: false, message: 'command must not be empty' };
  return { ok: true, value: words };
}

/** A container port the service listens on (no host publishing: others use the service name). */
export interface ComposePort {
  port: number;
  protocol: 'tcp' | 'udp';
}

/** `8080`, `"8080"`, `"8080/tcp"`, `"53/udp"`. Anything with a host side is refused. */
export function parsePort(value: string | number): ValueResult<ComposePort> {
  const text = String(value);
  if (text.includes(':')) {
    return {
      ok: false,
      message: `publishing to the host ('${text}') is not supported: list the container port only (e.g. "8080"); other services reach it by service name`,
    };
  }
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(text);
  if (!m) {
    const hint = /^\d+-\d+/.test(text) ? 'port ranges are not supported' : 'expected a port such as 8080 or "8080/tcp"';
    return { ok: false, message: `invalid port '${text}': ${hint}` };
  }
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return { ok: false, message: `port ${port} is out of range 1-65535` };
  return { ok: true, value: { port, protocol: m[2] === 'udp' ? 'udp' : 'tcp' } };
}

/** A named volume mounted into a service. */
export interface ComposeVolumeMount {
  /** Name under the template's top-level `volumes`. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

export const VOLUME_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** `"name:/path"` or `"name:/path:ro"`; host paths and anonymous volumes are refused. */
export function parseVolumeMount(text: string): ValueResult<ComposeVolumeMount> {
  const parts = text.split(':');
  const [source = '', target = '', mode, ...rest] = parts;
  if (parts.length === 1) {
    return {
      ok: false,
      message: `anonymous volume '${text}' is not supported: name it ("name:${text}") and declare it under top-level volumes`,
    };
  }
  if (/^[/.~]/.test(source) || source.includes('/') || source.includes('\\')) {
    return {
      ok: false,
      message: `host bind mount '${source}' is not supported: use a named volume (seed it with files instead)`,
    };
  }
  if (!VOLUME_NAME_PATTERN.test(source)) return { ok: false, message: `invalid volume name '${source}'` };
  if (!target.startsWith('/'))
    return { ok: false, message: `volume target '${target}' must be an absolute path inside the container` };
  if (rest.length > 0 || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    return { ok: false, message: `volume mode '${parts.slice(2).join(':')}' is not supported: use ro or rw` };
  }
  return { ok: true, value: { source, target, readOnly: mode === 'ro' } };
}
