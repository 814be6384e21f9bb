// Checks of request input shared by the routes: query parameters, path names and small JSON
// bodies. Each refusal is a 400 (`invalid`) naming the parameter or field and what it allows;
// a body over its bound is a 413 before it is read.
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ErrorBody } from "../types";

/** A 400 (`invalid`); `field` names the parameter or body field at fault (answered as `error.field`). */
export function invalid(message: string, field?: string): Error & { code: string; field?: string } {
  return Object.assign(new Error(message), { code: "invalid" }, field === undefined ? {} : { field });
}

/** Refuses a query parameter not in `allowed`, naming it and the ones allowed. */
export function onlyParams(c: Context, allowed: readonly string[]): void {
  for (const key of Object.keys(c.req.query())) {
    if (!allowed.includes(key)) {
      throw invalid(
        `unknown query parameter '${key.slice(0, 32)}': ${allowed.length > 0 ? `expected ${allowed.join(", ")}` : "this route takes none"}`,
        key.slice(0, 32),
      );
    }
  }
}

/** A whole number in [min, max] written in digits, or undefined when absent; 400 naming `name` otherwise. */
export function wholeParam(c: Context, name: string, min: number, max: number): number | undefined {
  const text = c.req.query(name);
  if (text === undefined || text === "") return undefined;
  const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max))
    throw invalid(`invalid ${name} '${text.slice(0, 32)}': expected a whole number from ${min} to ${max}`, name);
  return n;
}

/**
 * A path parameter that names something (a user, a channel): at most `max` characters; its pattern is the service's to
 * check.
 */
export function nameParam(c: Context, param: string, what: string, max: number): string {
  const value = c.req.param(param) ?? "";
  if (value.length > max)
    throw invalid(`invalid ${what} '${value.slice(0, 32)}…': a ${what} is at most ${max} characters`, param);
  return value;
}

/**
 * Refuses a request body over `maxBytes` with 413 before reading it (chunked bodies too). The answer closes the
 * connection: the unread rest of the body must not be taken for the client's next request on it.
 */
export function smallBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      c.json(
        {
          error: { code: "too_large", message: `request body exceeds the limit of ${maxBytes} bytes` },
        } satisfies ErrorBody,
        413,
        { connection: "close" },
      ),
  });
}

/**
 * The request body as a JSON object holding only `fields` (an empty body is `{}` when
 * `emptyOk`). `shape` is the body's example for messages, e.g. `{ "name": "...", "roles": [...] }`.
 */
export async function jsonObject(
  c: Context,
  fields: readonly string[],
  shape: string,
  emptyOk = false,
): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") {
    if (emptyOk) return {};
    throw invalid(`request body is required: ${shape}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid(`request body must be JSON: ${shape}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw invalid(`request body must be a JSON object: ${shape}`);
  const extra = Object.keys(body).filter((k) => !fields.includes(k));
  if (extra.length > 0) {
    throw invalid(
      `unknown field '${extra[0]!.slice(0, 32)}': ${fields.length > 0 ? `expected ${fields.join(", ")}` : "this route takes no fields"}`,
      extra[0]!.slice(0, 32),
    );
  }
  return body as Record<string, unknown>;
}

/** `body[field]` as a string of at most `max` characters; undefined when absent (or null) unless `required`. */
export function stringField(body: Record<string, unknown>, field: string, max: number, required: true): string;
export function stringField(
  body: Record<string, unknown>,
  field: string,
  max: number,
  required?: false,
): string | undefined;
export function stringField(
  body: Record<string, unknown>,
  field: string,
  max: number,
  required = false,
): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw invalid(`${field} is required`, field);
    return undefined;
  }
  if (typeof value !== "string") throw invalid(`${field} must be a string`, field);
  if (required && value === "") throw invalid(`${field} is required (got an empty string)`, field);
  if (value.length > max) throw invalid(`${field} is ${value.length} characters; the limit is ${max}`, field);
  return value;
}

/**
 * `body[field]` as an array of at most `maxItems` strings of at most `maxLength` characters each; undefined when
 * absent.
 */
export function stringListField(
  body: Record<string, unknown>,
  field: string,
  maxItems: number,
  maxLength: number,
): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(`${field} must be an array of strings`, field);
  if (value.length > maxItems) throw invalid(`${field} has ${value.length} entries; the limit is ${maxItems}`, field);
  for (const [i, v] of value.entries()) {
    if (typeof v !== "string") throw invalid(`${field}[${i}] must be a string`, field);
    if (v.length > maxLength)
      throw invalid(`${field}[${i}] is ${v.length} characters; the limit is ${maxLength}`, field);
  }
  return value as string[];
}

/** `body[field]` as a whole number in [min, max]; undefined when absent. */
export function wholeField(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(
      `${field} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value).slice(0, 32)}`,
      field,
    );
  }
  return value;
}
