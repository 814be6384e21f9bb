/**
 * Hard limits applied to every pipeline file before and during parsing.
 *
 * They exist so that hostile input (huge files, deep nesting, alias bombs, key floods)
 * is refused with a clear Problem in bounded time and memory instead of exhausting
 * the stack or the heap of whoever parses it (the CLI, the web API, the control plane).
 */
export const PIPELINE_LIMITS = Object.freeze({
  /** Largest accepted file, in bytes (1 MiB); checked before decoding or parsing. */
  maxBytes: 1024 * 1024,
  /** Deepest accepted nesting of collections (block indentation plus flow brackets). */
  maxDepth: 64,
  /** yaml's `maxAliasCount`: bounds alias expansion (billion laughs). */
  maxAliases: 100,
  /** Most stages in one pipeline. */
  maxStages: 500,
  /** Most mapping keys in the whole file (all levels, aliases not expanded). */
  maxKeys: 20_000,
  /** Most sequence items in the whole file (all levels, aliases not expanded). */
  maxItems: 50_000,
  /** Most problems returned; the rest are summarised in one final problem. */
  maxProblems: 100,
  /** Longest accepted timeout, in milliseconds (24h). */
  maxTimeoutMs: 24 * 60 * 60 * 1000,
  /** Highest accepted retry count. */
  maxRetries: 10,
});

/** The type of {@link PIPELINE_LIMITS}. */
export type PipelineLimits = typeof PIPELINE_LIMITS;
