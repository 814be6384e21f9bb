// Message templates: `{{ run.name }}`, `{{ status }}`, `{{ outputs.build.image }}`, `{{ links.run }}`.
// Rendering masks every secret value the farm holds, so no message carries one even when a
// stage printed it into an output.

/** What a template sees. Values are strings or nested records of them. */
export interface NotifyContext {
  event: string;
  status: string;
  run?: { id: string; name: string; number: number; state: string; commit?: string };
  stage?: { name: string; state: string };
  /** Stage name -> output name -> value. */
  outputs?: Record<string, Record<string, string>>;
  links?: Record<string, string>;
  [key: string]: unknown;
}

export const MAX_TEMPLATE_CHARS = 4096;
/** A rendered subject or body is cut here (an output may be long). */
export const MAX_RENDERED_CHARS = 16 * 1024;
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*)\s*\}\}/g;

export const DEFAULT_SUBJECT = "[dockyard] {{ run.name }} #{{ run.number }} {{ status }}";
export const DEFAULT_BODY =
  "Run {{ run.name }} #{{ run.number }} ({{ run.id }}) {{ status }}.{{ stage_line }}\n{{ links.run }}";

/** Names the template uses that the context has no value for (unknown placeholders render empty). */
export function templateProblems(template: string): string[] {
  if (template.length > MAX_TEMPLATE_CHARS)
    return [`template is ${template.length} characters; the limit is ${MAX_TEMPLATE_CHARS}`];
  const problems: string[] = [];
  const stripped = template.replace(PLACEHOLDER, "");
  if (/\{\{|\}\}/.test(stripped))
    problems.push("template has a '{{' or '}}' that is not a placeholder like {{ run.name }}");
  return problems;
}

/** Fills placeholders from `context`, then masks `secrets` (every occurrence becomes ***). */
export function renderTemplate(template: string, context: NotifyContext, secrets: readonly string[]): string {
  const filled = template.replace(PLACEHOLDER, (_m, path: string) => lookupPath(context, path));
  return maskSecrets(filled, secrets).slice(0, MAX_RENDERED_CHARS);
}

/**
 * Every occurrence of every value in `secrets` replaced by ***; longest first, so a value containing another is masked
 * whole.
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) if (s.length > 0) out = out.split(s).join("***");
  return out;
}

/** Masks every string inside a JSON-like value. */
export function maskDeep<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === "string") return maskSecrets(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => maskDeep(v, secrets)) as T;
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v, secrets)])) as T;
  return value;
}

function lookupPath(context: NotifyContext, path: string): string {
  if (path === "stage_line") return context.stage ? ` Stage ${context.stage.name}: ${context.stage.state}.` : "";
  let v: unknown = context;
  for (const part of path.split(".")) {
    if (!v || typeof v !== "object") return "";
    v = (v as Record<string, unknown>)[part];
  }
  if (v === undefined || v === null) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v as string | number | boolean);
}
