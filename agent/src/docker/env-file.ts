/**
 * Parses an env_file the way Compose reads one: `KEY=VALUE` lines, `#` comments, blank lines,
 * an optional `export ` prefix, and values in single quotes (literal) or double quotes (with
 * \n, \t, \" and \\ escapes). No `${VAR}` interpolation: the farm has no host env to draw on.
 * Returns the variables or the first bad line, 1-based.
 */
export function parseEnvFile(
  text: string,
): { ok: true; env: Record<string, string> } | { ok: false; line: number; message: string } {
  const env: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) return { ok: false, line: i + 1, message: 'expected KEY=VALUE' };
    const key = m[1] ?? '';
    let value = m[2] ?? '';
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0) return { ok: false, line: i + 1, message: 'unterminated single quote' };
      value = value.slice(1, end);
    } else if (value.startsWith('"')) {
      const m2 = /^"((?:[^"\\]|\\.)*)"/.exec(value);
      if (!m2) return { ok: false, line: i + 1, message: 'unterminated double quote' };
      const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
      value = (m2[1] ?? '').replace(/\\(.)/g, (all, c: string) => escapes[c] ?? all);
    } else {
      value = value.replace(/\s+#.*$/, ''); // an unquoted value ends at an inline comment
    }
    if (key !== '__proto__') env[key] = value;
  }
  return { ok: true, env };
}
