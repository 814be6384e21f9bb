// The control plane's one retry policy (cockatiel): which failures of its Postgres client
// are worth another try, and how often and how soon. Used by withTx (store/tx.ts).
import { ExponentialBackoff, fullJitterGenerator, handleWhen, retry, type RetryPolicy } from "cockatiel";

/** Deadlock detected, serialization failure: the transaction lost a race and may simply run again. */
const RETRYABLE_PG_CODES = new Set(["40P01", "40001"]);

/** The SQLSTATE of a pg error, also when a driver or drizzle wrapped it (`cause`). */
function pgCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Whether a failed transaction is worth running again: a deadlock or a serialization
 * failure (concurrent replicas and agents touch the same rows in different orders at
 * times). Anything else is a real error and is thrown at once.
 */
export function isRetryable(err: unknown): boolean {
  const code = pgCode(err);
  return code !== undefined && RETRYABLE_PG_CODES.has(code);
}

/** Tries of one transaction, the first included. */
export const TX_MAX_TRIES = 5;

/**
 * Retries a transaction that lost a race: up to TX_MAX_TRIES tries, each after a short
 * random wait (full jitter up to 10, 20, 40, 40 ms) so the two sides of a deadlock do not
 * collide again; the last error is thrown as it is.
 */
export const txRetry: RetryPolicy = retry(handleWhen(isRetryable), {
  maxAttempts: TX_MAX_TRIES - 1,
  backoff: new ExponentialBackoff({ initialDelay: 10, maxDelay: 40, generator: fullJitterGenerator }),
});
