// The agent's one retry policy: every reconnect and restart loop waits by a Backoff
// (capped exponential, equal jitter, on cockatiel's ExponentialBackoff), with the delays of
// each loop in BACKOFF below; `isRetryable` decides which failures of the agent's gRPC
// client are worth another try.
import { ExponentialBackoff, noJitterGenerator, type GeneratorFn, type IBackoff } from "cockatiel";
import { RegistrationRefusedError } from "./transport/register";

/** The first delay and the cap of one loop's backoff, before jitter. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Every backoff of the agent. Jitter keeps a farm's agents from coming back in step after
 * a server restart.
 */
export const BACKOFF = {
  /** Register (or register again) with the server: it may be down or restarting. */
  register: { initialMs: 200, maxMs: 5000 },
  /** Restart the supervisor process after it exited; never reset (a crash loop stays slow). */
  supervisorRestart: { initialMs: 100, maxMs: 5000 },
  /** Reopen the shared AttemptStream that carries placements. */
  pushStream: { initialMs: 100, maxMs: 2000 },
  /** Reopen one attempt's channel on the AttemptStream. */
  attemptStream: { initialMs: 100, maxMs: 3000 },
} satisfies Record<string, BackoffOptions>;

/** cockatiel's capped exponential delay, then "equal jitter": half fixed, half random. */
function equalJitter(random: () => number): GeneratorFn<number> {
  return (attempts, options) => {
    const [delay, next] = noJitterGenerator(attempts, options);
    return [delay / 2 + (random() * delay) / 2, next];
  };
}

/**
 * The delays of one failure streak: `next()` gives the delay before the next try
 * (initialMs·2ⁿ, capped at maxMs, then jittered into its upper half); `reset()` after a
 * success starts over. One per loop.
 */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private current: IBackoff<unknown> | undefined;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.factory = new ExponentialBackoff({ initialDelay: options.initialMs, maxDelay: options.maxMs, generator: equalJitter(random) });
  }

  /** The delay (ms) before the next try of this streak. */
  next(): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    return this.current.duration;
  }

  /** The streak ended (a try succeeded): the next failure waits initialMs again. */
  reset(): void {
    this.current = undefined;
  }
}

/**
 * Whether a failed call of the agent's gRPC client is worth retrying: everything but the
 * server's explicit refusal of this agent (a bad join token, a revoked id, another protocol
 * version), which no retry changes. Transport failures (server down, TLS not yet up,
 * deadlines) all heal by themselves.
 */
export function isRetryable(err: unknown): boolean {
  return !(err instanceof RegistrationRefusedError);
}
