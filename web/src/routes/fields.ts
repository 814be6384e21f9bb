// The zod schemas of request input the routes share: query parameters, path names and JSON body
// fields. Each carries the message its refusal answers (a 400 `invalid` naming the parameter or
// field: routes/validate.ts maps the first issue to `{error: {code, message, field}}`), so the
// messages are the ones the API gave before it had schemas. `{path}` in a message is replaced by
// the issue's path (`roles[0]`), for array items.
import { z } from "@hono/zod-openapi";

const quote = (v: unknown, n = 32) => (typeof v === "string" ? v.slice(0, n) : JSON.stringify(v)?.slice(0, n));

/** The query of a route: only the parameters in `shape`; another is refused, naming it and the allowed ones. */
export function queryObject<T extends z.ZodRawShape>(shape: T) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === "unrecognized_keys"
        ? `unknown query parameter '${quote(iss.keys[0])}': ${allowed.length > 0 ? `expected ${allowed.join(", ")}` : "this route takes none"}`
        : undefined,
  });
}

/** A JSON body object holding only the fields of `shape`; another is refused, naming it and the allowed ones. */
export function bodyObject<T extends z.ZodRawShape>(shape: T, unknownTail?: string) {
  const allowed = Object.keys(shape);
  const tail = unknownTail ?? (allowed.length > 0 ? `expected ${allowed.join(", ")}` : "this route takes no fields");
  return z.strictObject(shape, {
    error: (iss) => (iss.code === "unrecognized_keys" ? `unknown field '${quote(iss.keys[0])}': ${tail}` : undefined),
  });
}

/** A whole number in [min, max] written in digits; absent or empty is undefined. */
export function wholeQuery(name: string, min: number, max: number, description?: string) {
  const message = (input: unknown) =>
    `invalid ${name} '${quote(input)}': expected a whole number from ${min} to ${max}`;
  return z
    .string({ error: (iss) => message(iss.input) })
    .refine((t) => t === "" || (/^\d{1,16}$/.test(t) && Number(t) >= min && Number(t) <= max), {
      error: (iss) => message(iss.input),
    })
    .transform((t) => (t === "" ? undefined : Number(t)))
    .optional()
    .openapi({ type: "integer", minimum: min, maximum: max, ...(description && { description }) });
}

/** A query parameter that must be one of `values` when given (empty is absent). */
export function enumQuery(name: string, values: readonly string[], description?: string) {
  return z
    .string({ error: (iss) => `invalid ${name} '${quote(iss.input)}': expected one of ${values.join(", ")}` })
    .refine((t) => t === "" || values.includes(t), {
      error: (iss) => `invalid ${name} '${quote(iss.input)}': expected one of ${values.join(", ")}`,
    })
    .transform((t) => t || undefined)
    .optional()
    .openapi({ type: "string", enum: [...values], ...(description && { description }) });
}

/** A text query parameter of at most `max` characters (empty is absent). */
export function textQuery(name: string, what: string, max: number, description?: string) {
  const message = (input: unknown) => `invalid ${name} '${quote(input)}…': a ${what} is at most ${max} characters`;
  return z
    .string({ error: (iss) => message(iss.input) })
    .max(max, { error: (iss) => message(iss.input) })
    .transform((t) => t || undefined)
    .optional()
    .openapi({ type: "string", maxLength: max, ...(description && { description }) });
}

/** A path parameter that names something (a user, a channel): at most `max` characters; its pattern is the service's. */
export function nameParam(what: string, max: number) {
  return z.string().max(max, {
    error: (iss) => `invalid ${what} '${quote(iss.input)}…': a ${what} is at most ${max} characters`,
  });
}

/** A string body field of at most `max` characters; required: present, not null and not empty. */
export function requiredString(field: string, max: number) {
  return z
    .string({ error: (iss) => (iss.input == null ? `${field} is required` : `${field} must be a string`) })
    .min(1, `${field} is required (got an empty string)`)
    .max(max, { error: (iss) => `${field} is ${(iss.input as string).length} characters; the limit is ${max}` });
}

/** A string body field of at most `max` characters; absent or null is undefined. */
export function optionalString(field: string, max: number) {
  return z
    .string({ error: `${field} must be a string` })
    .max(max, { error: (iss) => `${field} is ${(iss.input as string).length} characters; the limit is ${max}` })
    .nullish()
    .transform((v) => v ?? undefined);
}

/** An array of at most `maxItems` strings of at most `maxLength` characters each; absent or null is undefined. */
export function stringList(field: string, maxItems: number, maxLength: number) {
  const item = z.string({ error: "{path} must be a string" }).max(maxLength, {
    error: (iss) => `{path} is ${(iss.input as string).length} characters; the limit is ${maxLength}`,
  });
  return z
    .array(item, { error: `${field} must be an array of strings` })
    .max(maxItems, {
      error: (iss) => `${field} has ${(iss.input as unknown[]).length} entries; the limit is ${maxItems}`,
    })
    .nullish()
    .transform((v) => v ?? undefined);
}

/** A whole number body field in [min, max]; absent or null is undefined. */
export function wholeField(field: string, min: number, max: number) {
  const error = (iss: { input?: unknown }) =>
    `${field} must be a whole number from ${min} to ${max}, got ${JSON.stringify(iss.input)?.slice(0, 32)}`;
  return z
    .number({ error })
    .int({ error })
    .min(min, { error })
    .max(max, { error })
    .nullish()
    .transform((v) => v ?? undefined);
}
