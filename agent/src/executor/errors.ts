/**
 * Errors thrown by executors. `code` is a stable string the runner maps to a stage outcome:
 * `image_missing` and `start_failed` mean the farm could not run the stage (stage `errored`,
 * never `failed`); `wait_failed` means the process was lost while running; `unavailable`
 * means the engine (dockerd) did not answer a housekeeping call (remove, listOwned, reap).
 */
export type ExecutorErrorCode = 'image_missing' | 'start_failed' | 'wait_failed' | 'unavailable';

export class ExecutorError extends Error {
  override readonly name = 'ExecutorError';

  constructor(
    readonly code: ExecutorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isExecutorError(err: unknown, code?: ExecutorErrorCode): err is ExecutorError {
  return err instanceof ExecutorError && (code === undefined || err.code === code);
}
