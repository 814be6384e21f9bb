/**
 * The agent's errors: a stable string `code` (each family documents its own) and a message
 * written for the person reading the stage log. Stage handlers show any AgentError's message
 * as it is; other errors are bugs or lost engines and are reported as the farm's failure.
 */
export class AgentError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAgentError(err: unknown): err is AgentError {
  return err instanceof AgentError;
}
