// The JSON rule of cli/README: "a value that does not exist (yet) is null, never "" or 0".
// nullRuleViolations() walks any JSON answer (HTTP, `--json`, NDJSON events) and names each
// place that breaks it, so a test can assert on the whole answer at once.

/** Keys whose empty string is real data (log text), not a missing value. */
const TEXT_KEYS = new Set(["text", "base64"]);

/** Where `value` breaks the rule, as `path: why` lines; empty when it keeps it. */
export function nullRuleViolations(value: unknown, path = "$"): string[] {
  if (typeof value === "string") {
    if (value === "" && !TEXT_KEYS.has(path.slice(path.lastIndexOf(".") + 1))) return [`${path}: "" instead of null`];
    if (value.startsWith("1970-01-01T")) return [`${path}: the epoch (a zero time) instead of null`];
    return [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => nullRuleViolations(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  const obj = value as Record<string, unknown>;
  const out: string[] = [];
  // An exit code of 0 says "succeeded"; anything else that has none carries null.
  if (obj.exitCode === 0 && obj.state !== "succeeded")
    out.push(`${path}.exitCode: 0 on a ${String(obj.state)} ${path}`);
  if (typeof obj.exitCode === "number" && obj.exitCode < 0)
    out.push(`${path}.exitCode: ${obj.exitCode} instead of null`);
  if (obj.attempt === 0) out.push(`${path}.attempt: 0 instead of null`);
  for (const [k, v] of Object.entries(obj)) out.push(...nullRuleViolations(v, `${path}.${k}`));
  return out;
}
