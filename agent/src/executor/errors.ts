/**
 * Errors thrown by executors. `code` is a stable string the runner maps to a stage outcome:
 * `image_missing` and `start_failed` mean the farm could not run the stage (stage `errored`,
 * never `failed`); `wait_failed` means the process was lost while running; `unavailable`
 * means the engine (dockerd) did not answer a housekeeping call (remove, listOwned, reap).
 */
import { AgentError } from '../errors';
export type ExecutorErrorCode = 'image_missing' | 'start_failed' | 'wait_failed' | 'unavailable';

export class ExecutorError extends AgentError<ExecutorErrorCode> {
  override readonly name = 'ExecutorError';
}

export function isExecutorError(err: unknown, code?: ExecutorErrorCode): err is ExecutorError {
  return err instanceof ExecutorError && (code === undefined || err.code === code);
}
