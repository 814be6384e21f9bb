/**
 * Why an environment (or a one-time test container) could not be brought up:
 * - `invalid`: the request itself is wrong (project name, missing env_file contents, seed path);
 * - `conflict`: something already carries this environment id;
 * - `image_missing`: an image is not on the engine (environments never pull);
 * - `start_failed`: Docker refused to create or start a container;
 * - `exited`: a container stopped during startup;
 * - `unhealthy`: a health check did not pass within the health timeout;
 * - `timeout`: a test container ran past its timeout and was killed;
 * - `aborted`: the caller's signal fired;
 * - `unavailable`: the engine failed a housekeeping call (list, remove).
 * Farm-side failures all: a runner maps them to `errored`, never `failed`.
 */
import { AgentError } from '../errors';

export type EnvironmentErrorCode =
  | 'invalid'
  | 'conflict'
  | 'image_missing'
  | 'start_failed'
  | 'exited'
  | 'unhealthy'
  | 'timeout'
  | 'aborted'
  | 'unavailable';

export class EnvironmentError extends AgentError<EnvironmentErrorCode> {
  override readonly name = 'EnvironmentError';

  constructor(
    code: EnvironmentErrorCode,
    message: string,
    readonly details: {
      /** The service at fault, when there is one. */
      service?: string;
      /** Last lines of that service's output (stdout and stderr interleaved), already in `message`. */
      logTail?: string[];
      cause?: unknown;
    } = {},
  ) {
    super(code, message, { cause: details.cause });
  }

  get service(): string | undefined {
    return this.details.service;
  }
}

export function isEnvironmentError(err: unknown, code?: EnvironmentErrorCode): err is EnvironmentError {
  return err instanceof EnvironmentError && (code === undefined || err.code === code);
}
