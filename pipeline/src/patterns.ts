// Patterns that other packages check too (the CLI's `agent --labels`, the agent's config,
// the server's registration): one definition, exported from the package's entry point.

/**
 * Agent label keys: a letter or digit, then letters, digits and `._/-`, 63 at most.
 * `__proto__` is excluded: labels live in plain objects, where that key sets the prototype.
 */
export const LABEL_KEY_PATTERN = /^(?!__proto__$)[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/;

/** LABEL_KEY_PATTERN in words, for messages. */
export const LABEL_KEY_RULE = "a letter or digit, then letters, digits, '.', '_', '/', '-' (max 63; not __proto__)";
