// Capped exponential backoff with jitter, on cockatiel's ExponentialBackoff: the one
// reconnect policy of every gRPC client of the farm (the agent's loops, the CLI's watch).
// Each client keeps its own delays and its own `isRetryable`.
import { ExponentialBackoff, noJitterGenerator, type GeneratorFn, type IBackoff } from "cockatiel";

/** The first delay and the cap of a backoff, before jitter. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

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
 * success starts over. One per loop; `random` is injectable for tests (uniform [0, 1)).
 */
export class Backoff {
  private readonly factory: ExponentialBackoff<number>;
  private current: IBackoff<unknown> | undefined;

  constructor(options: BackoffOptions, random: () => number = Math.random) {
    this.factory = new ExponentialBackoff({
      initialDelay: options.initialMs,
      maxDelay: options.maxMs,
      generator: equalJitter(random),
    });
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
