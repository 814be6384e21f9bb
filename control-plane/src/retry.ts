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

/**
 * Connection-level failures: nothing listens yet, Postgres is starting or full, or a connection
 * could not be made within the pool's second (a disk-bound server under load). A wrong password
 * or a missing database has a code of its own and is not among them: waiting would not help.
 */
const UNREACHABLE_CODES = new Set([
  "57P03", // cannot_connect_now: starting up or shutting down
  "53300", // too_many_connections
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** What pg says when its connect timeout (or the server) cut a connection short; it has no code. */
const UNREACHABLE_MESSAGE = /timeout exceeded when trying to connect|Connection terminated/i;

export function isUnreachable(err: unknown): boolean {
  const code = pgCode(err);
  if (code !== undefined) return UNREACHABLE_CODES.has(code);
  for (let e: unknown = err, i = 0; i < 4 && e; i++, e = (e as { cause?: unknown }).cause)
    if (UNREACHABLE_MESSAGE.test(String((e as { message?: unknown }).message ?? ""))) return true;
  return false;
}

/** Tries of a starting server's first statements: waits of 0.25, 0.5, 1, 2, 4, then 5 s: about a minute in all. */
export const STARTUP_MAX_TRIES = 16;

/**
 * A starting server waits for its database (a Postgres started beside it, as compose and a
 * host's boot do, or one busy with its disk) instead of exiting; `onWait` hears each failed try.
 */
export function startupRetry(onWait: (err: unknown, attempt: number) => void): RetryPolicy {
  const policy = retry(handleWhen(isUnreachable), {
    maxAttempts: STARTUP_MAX_TRIES - 1,
    backoff: new ExponentialBackoff({ initialDelay: 250, maxDelay: 5000 }),
  });
  policy.onRetry((e) => onWait("error" in e ? e.error : e.value, e.attempt));
  return policy;
}
