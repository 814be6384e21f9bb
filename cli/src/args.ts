// Parsers for flag and argument values. Each throws commander's
// InvalidArgumentError, which commander reports as a usage error (exit 2).
import { MAX_RUNS_LIMIT, RUN_STATES } from "@dockyard/web";
import { InvalidArgumentError } from "commander";
import { UsageError } from "./errors";

/** Largest --capacity an agent may announce. */
export const MAX_CAPACITY = 256;
/** Largest --limit for `runs`: the server's cap. */
export const MAX_LIST_LIMIT = MAX_RUNS_LIMIT;
/** How a RUN argument may be written (the server resolves it). */
export const RUN_ARG = "run id, a unique prefix of it (6+ characters) or PIPELINE#NUMBER (e.g. deploy#3)";
/** States `runs --state` accepts. */
export { RUN_STATES };

const LABEL_VALUE = /^[A-Za-z0-9._:/-]{0,128}$/;

/**
 * Parses `k=v,k2=v2` into a map of own properties (no key reaches the prototype). Values
 * may be empty and hold letters, digits and `._:/-` (max 128). Duplicate keys and empty items
 * are refused. The keys are checked by checkLabelKeys.
 */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === "") return labels;
  for (const item of text.split(",")) {
    const trimmed = item.trim();
    const eq = trimmed.indexOf("=");
    if (trimmed === "" || eq < 0) {
      throw new InvalidArgumentError(`labels must look like key=value,key2=value2 (got item "${item}")`);
    }
    const key = trimmed.slice(0, eq);
    const value = trimmed.slice(eq + 1);
    if (!LABEL_VALUE.test(value)) {
      throw new InvalidArgumentError(
        `label value "${value}" for "${key}" may use only letters, digits, '.', '_', ':', '/', '-' (max 128)`,
      );
    }
    if (Object.hasOwn(labels, key)) throw new InvalidArgumentError(`label "${key}" is given twice`);
    Object.defineProperty(labels, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return labels;
}

/**
 * Refuses (usage error) the first key that the pipeline's LABEL_KEY_PATTERN, the one every
 * package checks label keys with, does not match. Asynchronous: the pipeline package loads
 * for `dockyard agent` only, not for every CLI call (it brings zod and yaml).
 */
export async function checkLabelKeys(labels: Record<string, string>): Promise<void> {
  const { LABEL_KEY_PATTERN, LABEL_KEY_RULE } = await import("@dockyard/pipeline");
  for (const key of Object.keys(labels)) {
    if (!LABEL_KEY_PATTERN.test(key)) throw new UsageError(`--labels: label key "${key}" must be ${LABEL_KEY_RULE}`);
  }
}

/** The canonical `k=v,k2=v2` text of a label map (what DOCKYARD_AGENT_LABELS gets). */
export function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** Validates --labels and returns the canonical text. */
export function labelsArg(text: string): string {
  return formatLabels(parseLabels(text));
}

/** A whole number from `min` to `max`, written in decimal digits only. */
export function parseBoundedInt(text: string, what: string, min: number, max: number): number {
  const trimmed = text.trim();
  const value = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max} (got "${text}")`);
  }
  return value;
}

/** --capacity: concurrent stage slots, 1..MAX_CAPACITY. */
export function parseCapacity(text: string): number {
  return parseBoundedInt(text, "capacity", 1, MAX_CAPACITY);
}

/** --limit for `runs`: 1..MAX_LIST_LIMIT. */
export function parseLimit(text: string): number {
  return parseBoundedInt(text, "limit", 1, MAX_LIST_LIMIT);
}

/** --attempt for `logs`: 1..1000. */
export function parseAttempt(text: string): number {
  return parseBoundedInt(text, "attempt", 1, 1000);
}

/** --state for `runs`: one of RUN_STATES. */
export function parseRunState(text: string): string {
  if (!(RUN_STATES as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`state must be one of ${RUN_STATES.join(", ")} (got "${text}")`);
  }
  return text;
}
